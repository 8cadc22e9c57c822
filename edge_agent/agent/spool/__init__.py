"""The capture spool on disk: segments and their format, the seal stage that turns them into landing
files, the sealed backlog waiting for upload, the folder's lock and recovery, and its usage bounds."""
