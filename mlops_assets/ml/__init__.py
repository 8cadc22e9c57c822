"""The platform's machine learning, plain logic without Dagster, one sub-package per job:

- `autoencoder`: segments and windows, the model, its training loop, scores, thresholds, weld-level
  scores and detection metrics (numpy and torch only);
- `training`: the training graph's work on the lake and MLflow, per line;
- `release`: from a trained run to a served champion (ONNX, signed package, parity, quality gate);
- `byod`: bring your own data (`mlops evaluate`, `mlops replay`);
- `evaluation`: measurements of the training graph on real and simulated welds (scripts);
- `registry`: MLflow tracking and model registry behind one small interface.
"""
