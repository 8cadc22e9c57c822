"""The training graph's work, per line, on the lake and MLflow: telemetry and labels in, feature
windows, the run's model, thresholds (`threshold.json`), held-out evaluation and what the run records.
The Dagster assets in `mlops_assets.defs.training` only wire these to resources."""
