"""Training domain: features, the autoencoder, its threshold and its evaluation, per production line;
`model_training_job` (through packaging) and its weekly schedule."""
