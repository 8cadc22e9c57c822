"""Store and forward: the landing targets (a directory or S3) and the uploader that sends sealed files."""
