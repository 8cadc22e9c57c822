"""The full chain on simulator data in a real Dagster instance, Delta lake and MLflow store: the first
champion, a worse candidate, a promotion and its rollback, a broken export caught by parity, the
duration component switched off (the platform: `conftest.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import mlflow.artifacts
import numpy as np
import pytest
import torch

from edge_agent.features import MANIFEST_FILE, MODEL_FILE, load_package, verify_signature
from mlops_assets.ml.autoencoder.model_io import load_scorer
from mlops_assets.ml.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from mlops_assets.ml.release.gate import package_quality_gate
from mlops_assets.ml.release.onnx_export import export_onnx
from mlops_assets.ml.release.packaging import Lineage, build_package
from mlops_assets.ml.release.parity import package_parity
from mlops_assets.ml.release.signing import load_or_create_dev_signer
from mlops_assets.ml.training.feature_table import WELD_FEATURES
from tests.mlops_assets.defs.packaging.support import LINE, new_candidate, package_folder, platform_key
from tests.mlops_assets.defs.training.chain import Platform, checks, metadata


def test_chain_materialises_and_first_package_becomes_champion(
    trained: tuple[Platform, dg.ExecuteInProcessResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, result = trained
    found = checks(result)
    assert found["package_matches_torch_model"].passed
    assert found["package_passes_quality_gate"].passed

    features = metadata(result, "weld_features")
    assert platform.store.exists(WELD_FEATURES) and features["windows"]["holdout"] > 0
    trained_model = metadata(result, "anomaly_autoencoder")
    threshold = metadata(result, "anomaly_threshold")
    evaluation = metadata(result, "model_evaluation")
    package = metadata(result, "edge_model_package")
    assert (
        "data:image/png;base64," in threshold["histogram"]
        and "data:image/png;base64," in trained_model["loss_curve"]
    )
    assert (
        evaluation["level"] == "weld" and evaluation["roc_auc"] > 0.8
    )  # defects are visible in simulated welds

    # MLflow holds the run with its parameters, per-epoch losses, data and code versions, artefacts.
    registry = platform.registry
    run = registry.client.get_run(trained_model["mlflow_run_id"])
    assert run.data.params["telemetry_delta_version"] == str(features["telemetry_version"])
    assert run.data.params["git_commit"] and run.data.params["hidden"] == "64,16"
    losses = registry.client.get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in losses] == list(range(1, trained_model["epochs"] + 1))
    assert "eval_weld_roc_auc" in run.data.metrics and "threshold_window" in run.data.metrics
    # The weld score has a duration component by default, logged and evaluated on its own as well.
    assert run.data.params["weld_duration"] == "True" and "threshold_weld_duration" in run.data.metrics
    assert {"eval_weld_shape_roc_auc", "eval_weld_duration_roc_auc"} <= set(run.data.metrics)
    assert set(evaluation["weld_component_metrics"]) == {"shape", "duration"}
    duration = threshold["thresholds"]["weld_duration"]
    assert threshold["thresholds"]["format"] == 2 and duration["n_fit"] > duration["n_scores"] > 0
    artifacts = {a.path for a in registry.client.list_artifacts(run.info.run_id)}
    assert {"model", "plots", "threshold", "evaluation", "edge_package"} <= artifacts

    # The first package was promoted as the first model (later tests may have promoted others since).
    gate = {k: getattr(v, "value", v) for k, v in found["package_passes_quality_gate"].metadata.items()}
    assert package["model_version"] == "1" and gate["promoted"] is True and gate["champion_version"] == "none"
    assert gate["reason"] == "no champion yet: the first model is promoted"
    manifest = package["manifest"]
    assert verify_signature(manifest, package["public_key"])
    assert manifest["lineage"]["training_data_version"] == features["telemetry_version"]
    assert (
        features["telemetry_days"]["days"] == 1
        and package["telemetry_version"] == features["telemetry_version"]
    )

    # The version's source is the package itself: `models:/<name>@champion` downloads it, and it verifies.
    version = registry.client.get_model_version(package["model_name"], package["model_version"])
    assert version.source == version.tags["package_uri"] == manifest["package_uri"]
    champion = registry.by_alias(package["model_name"], CHAMPION)
    assert champion is not None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)  # as a user would point MLflow
    downloaded = mlflow.artifacts.download_artifacts(
        artifact_uri=f"models:/{package['model_name']}@{CHAMPION}", dst_path=str(tmp_path)
    )
    served = load_package(Path(downloaded), package["public_key"], key_id=package["signing_key_id"])
    assert served.model_version == champion.version


def test_worse_candidate_fails_the_gate_and_does_not_become_champion(platform: Platform) -> None:
    registry = platform.registry
    before = registry.by_alias("weld-ae-line-1", CHAMPION)
    assert before is not None
    worse = {
        "anomaly_autoencoder": {
            "config": {"max_epochs": 1, "learning_rate": 1e-5, "hidden": [64, 16], "latent": 6}
        }
    }
    result = platform.materialize(LINE, worse)
    assert not result.success  # a failed blocking check fails the run
    gate = checks(result)["package_passes_quality_gate"]
    assert not gate.passed
    values = {k: getattr(v, "value", v) for k, v in gate.metadata.items()}
    assert values["candidate_value"] < values["champion_value"] - values["tolerance"]
    candidate = metadata(result, "edge_model_package")["model_version"]
    assert registry.by_alias("weld-ae-line-1", CHAMPION).version == before.version  # type: ignore[union-attr]
    assert registry.by_alias("weld-ae-line-1", CHALLENGER).version == candidate  # type: ignore[union-attr]
    tags = registry.client.get_model_version("weld-ae-line-1", candidate).tags
    assert tags["quality_gate"] == "failed"


def test_a_passing_candidate_is_promoted_and_the_old_champion_stays_for_rollback(platform: Platform) -> None:
    registry = platform.registry
    before = registry.by_alias("weld-ae-line-1", CHAMPION)
    assert before is not None
    # A tolerance of 1 on ROC-AUC (a number in [0, 1]) lets any verified, parity-checked candidate
    # through, whatever this retraining scores: the promotion path runs every time.
    result = platform.materialize(
        LINE,
        {
            "anomaly_autoencoder": {"config": {"max_epochs": 12, "hidden": [64, 16], "latent": 6, "seed": 8}},
            "edge_model_package": {"config": {"gate_tolerance": 1.0}},
        },
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    gate = checks(result)["package_passes_quality_gate"]
    values = {k: getattr(v, "value", v) for k, v in gate.metadata.items()}
    assert gate.passed and values["champion_version"] == before.version and values["promoted"] is True
    new = metadata(result, "edge_model_package")["model_version"]
    assert registry.by_alias("weld-ae-line-1", CHAMPION).version == new  # type: ignore[union-attr]
    assert registry.by_alias("weld-ae-line-1", PREVIOUS_CHAMPION).version == before.version  # type: ignore[union-attr]
    assert registry.client.get_model_version("weld-ae-line-1", new).tags["quality_gate"] == "passed"
    assert registry.rollback("weld-ae-line-1") == before.version
    assert registry.by_alias("weld-ae-line-1", CHAMPION).version == before.version  # type: ignore[union-attr]
    assert registry.by_alias("weld-ae-line-1", PREVIOUS_CHAMPION).version == new  # type: ignore[union-attr]


def test_parity_check_catches_a_wrong_export(platform: Platform, tmp_path: Path) -> None:
    registry = platform.registry
    package = new_candidate(platform, gate_tolerance=1.0)
    folder = package_folder(platform, package["model_name"], package["model_version"])
    good = load_package(folder, package["public_key"])
    assert good.weld_scorer is not None and good.weld_scorer.components == ("shape", "duration")
    key = platform_key(platform)
    assert package_parity(registry, platform.store, LINE, package, key).passed  # the real export
    # A well-formed, correctly signed package whose ONNX graph is not the trained model: the kind of
    # mistake an exporter bug makes. Hashes and signature pass; only parity can catch it.
    scorer = load_scorer(
        Path(registry.download(package["mlflow_run_id"], "model", tmp_path / "model")) / "scorer.pt"
    )
    last = scorer.autoencoder.decoder[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.bias.add_(0.05)
    wrong = tmp_path / "wrong"
    build_package(
        wrong,
        onnx_model=export_onnx(scorer, good.spec.n_features),
        spec=good.spec,
        thresholds=good.thresholds,
        profile={"x": np.zeros(1)},
        line=LINE,
        model_name=package["model_name"],
        model_version=package["model_version"],
        lineage=Lineage(**good.manifest["lineage"]),
        package_uri=good.manifest["package_uri"],
        signer=load_or_create_dev_signer(platform.home / "signing"),
    )
    for name in (MODEL_FILE, MANIFEST_FILE):
        (folder / name).write_bytes((wrong / name).read_bytes())
    (folder / "reference_profile.parquet").write_bytes((wrong / "reference_profile.parquet").read_bytes())
    assert json.loads((folder / MANIFEST_FILE).read_text())["model_version"] == package["model_version"]
    load_package(folder, package["public_key"])  # still a valid package

    report = package_parity(registry, platform.store, LINE, package, key)
    assert not report.passed
    assert report.max_abs_diff["reconstruction"] > report.atol

    # The gate runs parity first: this package (signed, hashes right, tolerance 1 from its packaging
    # config, so any score would pass) is not the evaluated model and is never promoted.
    champion = registry.by_alias(package["model_name"], CHAMPION)
    assert champion is not None and champion.version != package["model_version"]
    outcome = package_quality_gate(registry, platform.store, LINE, package, key)
    assert not outcome.decision.passed and outcome.decision.reason.startswith("parity:")
    assert registry.by_alias(package["model_name"], CHAMPION).version == champion.version  # type: ignore[union-attr]
    tags = registry.client.get_model_version(package["model_name"], package["model_version"]).tags
    assert tags["quality_gate"] == "failed" and tags["quality_gate_reason"].startswith("parity:")


def test_weld_duration_can_be_switched_off_in_the_launchpad(platform: Platform) -> None:
    result = platform.materialize(
        LINE,
        {"anomaly_threshold": {"config": {"weld_duration": False}}},
        selection=dg.AssetSelection.assets("anomaly_threshold", "model_evaluation"),
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    threshold = metadata(result, "anomaly_threshold")
    assert threshold["thresholds"]["weld_duration"] is None and threshold["thresholds"]["weld"] is not None
    evaluation = metadata(result, "model_evaluation")
    assert set(evaluation["weld_component_metrics"]) == {"shape"}
    assert (
        evaluation["weld_metrics"]["threshold"] == 1.0 and "alarms_duration" not in evaluation["weld_metrics"]
    )
    run = platform.registry.client.get_run(threshold["mlflow_run_id"])
    # A re-tune of the same model: MLflow params keep the first fit, the tag holds the current settings.
    assert run.data.params["weld_duration"] == "True"
    assert json.loads(run.data.tags["threshold_config"])["weld_duration"] is False
