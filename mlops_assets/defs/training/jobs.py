"""`model_training_job`: one line's model, from features to a signed, gated edge package (the training
and packaging groups)."""

import dagster as dg

__all__ = ["model_training_job"]

model_training_job = dg.define_asset_job(
    "model_training_job",
    selection=dg.AssetSelection.groups("training", "packaging") - dg.AssetSelection.assets("weld_labels"),
    description=(
        "Per line: weld_features, anomaly_autoencoder, anomaly_threshold, model_evaluation and "
        "edge_model_package with its blocking checks (ONNX parity, quality gate against the champion)."
    ),
)
