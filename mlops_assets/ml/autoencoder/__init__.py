"""The window autoencoder and the numbers around it: segments and windows, the model and its training
loop, window scores, thresholds, weld-level scores and detection metrics. No lake, MLflow or Dagster."""
