"""The full chain on simulator data in a real Dagster instance, Delta lake and MLflow store; the quality
gate and the ONNX parity check doing their job. One platform for the module, trained once: every test
starts from a champion that verifies and makes its own candidate, so each runs alone as well as in any
order (first champion, a worse candidate, a promotion and its rollback, a broken export, a champion
that no longer verifies, a signal missing on the held-out days, features cut again since training)."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import mlflow.artifacts
import numpy as np
import polars as pl
import pytest
import torch

from edge_agent.features import (
    FEATURE_SPEC_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    file_digest,
    load_package,
    verify_signature,
)
from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore
from mlops_assets.ml import steps
from mlops_assets.ml.feature_table import WELD_FEATURES, FeaturesMismatch
from mlops_assets.ml.labels import label_map
from mlops_assets.ml.model_io import load_scorer
from mlops_assets.ml.onnx_export import export_onnx
from mlops_assets.ml.package_checks import PlatformKey, package_parity, package_quality_gate
from mlops_assets.ml.packaging import Lineage, build_package
from mlops_assets.ml.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from mlops_assets.ml.signing import ManifestSigner, load_or_create_dev_signer, sign_manifest
from mlops_assets.ml.telemetry import read_line_telemetry, telemetry_slice
from mlops_assets.partitions import line_partitions
from tests.mlops_assets.defs.training.chain import (
    Platform,
    checks,
    metadata,
    simulated_welds,
    start_platform,
    write_line,
)

LINE = "line-1"
MODEL = "weld-ae-line-1"
GATE_AND_PACKAGE = dg.AssetSelection.assets("edge_model_package") | dg.AssetSelection.checks_for_assets(
    "edge_model_package"
)
FAST = {"anomaly_autoencoder": {"config": {"max_epochs": 12, "hidden": [64, 16], "latent": 6}}}


def _platform_key(platform: Platform) -> PlatformKey:
    signer = load_or_create_dev_signer(platform.home / "signing")
    return PlatformKey(signer.key_id, signer.public_key_b64)


def _package_folder(platform: Platform, name: str, version: str) -> Path:
    uri = platform.registry.client.get_model_version(name, version).tags["package_uri"]
    return Path(uri.removeprefix("file://"))


def _new_candidate(platform: Platform, gate_tolerance: float = 0.0) -> dict[str, Any]:
    """A fresh package of the trained model, registered as challenger and not judged yet (the checks
    are not selected): a candidate that is not the champion, in seconds, without training."""
    result = platform.materialize(
        LINE,
        {"edge_model_package": {"config": {"gate_tolerance": gate_tolerance}}},
        selection=dg.AssetSelection.assets("edge_model_package").without_checks(),
    )
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    package = metadata(result, "edge_model_package")
    assert platform.registry.client.get_model_version(MODEL, package["model_version"]).tags[
        "quality_gate"
    ] == ("pending")
    return package


def _resign(platform: Platform, folder: Path, name: str, content: str) -> None:
    """Replace one file of a package, re-hash it in the manifest and sign it with the platform key: a
    package the platform itself could have made."""
    (folder / name).write_text(content)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    digest, size = file_digest(folder / name)
    for entry in manifest["files"]:
        if entry["path"] == name:
            entry.update(sha256=digest, bytes=size)
    signer = load_or_create_dev_signer(platform.home / "signing")
    (folder / MANIFEST_FILE).write_text(json.dumps(sign_manifest(manifest, signer)))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, dg.ExecuteInProcessResult]]:
    """The platform and its first run of the whole chain (training once for the module)."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = start_platform(tmp_path_factory.mktemp("platform"), monkeypatch, [LINE])
        write_line(running.store, LINE, simulated_welds(["cell-01", "cell-02"], per_cell=40))
        first = running.materialize(LINE, FAST)
        assert first.success, [e.message for e in first.all_events if e.is_failure]
        yield running, first


@pytest.fixture
def platform(trained: tuple[Platform, dg.ExecuteInProcessResult]) -> Platform:
    """The module's platform with a champion whose package verifies with the platform key."""
    running, _ = trained
    champion = running.registry.by_alias(MODEL, CHAMPION)
    assert champion is not None
    load_package(_package_folder(running, MODEL, champion.version), _platform_key(running).public_key_b64)
    return running


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
    package = _new_candidate(platform, gate_tolerance=1.0)
    folder = _package_folder(platform, package["model_name"], package["model_version"])
    good = load_package(folder, package["public_key"])
    assert good.weld_scorer is not None and good.weld_scorer.components == ("shape", "duration")
    key = _platform_key(platform)
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


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    return [str(e.event_specific_data.error.message) for e in result.all_events if e.is_step_failure]  # type: ignore[union-attr]


def test_a_champion_that_does_not_verify_with_the_platform_key_fails_the_gate_closed(
    platform: Platform,
) -> None:
    registry = platform.registry
    champion = registry.by_alias("weld-ae-line-1", CHAMPION)
    assert champion is not None
    folder = _package_folder(platform, champion.name, champion.version)
    original = {name: (folder / name).read_bytes() for name in (MANIFEST_FILE, "threshold.json")}
    manifest = json.loads(original[MANIFEST_FILE])
    try:
        # Signed with a retired key: a valid signature, but not one the platform can check.
        retired = ManifestSigner.from_base64(base64.b64encode(b"\x07" * 32).decode(), "retired-key")
        (folder / MANIFEST_FILE).write_text(json.dumps(sign_manifest(manifest, retired)))
        result = platform.materialize(
            LINE, {"edge_model_package": {"config": {"gate_tolerance": 1.0}}}, selection=GATE_AND_PACKAGE
        )
        gate = checks(result)["package_passes_quality_gate"]
        reason = str(gate.metadata["reason"].value)  # type: ignore[attr-defined]
        assert not gate.passed and "retired-key" in reason and "cannot be verified" in reason, reason
        candidate = metadata(result, "edge_model_package")["model_version"]
        assert checks(result)["package_matches_torch_model"].passed  # the candidate itself is fine
        assert registry.by_alias("weld-ae-line-1", CHAMPION).version == champion.version  # type: ignore[union-attr]
        assert registry.client.get_model_version("weld-ae-line-1", candidate).tags["quality_gate"] == "failed"

        # Re-hashed after an edit, signature kept: the hashes agree, the signature does not.
        (folder / "threshold.json").write_text(
            original["threshold.json"].decode().replace('"value"', '"value" ', 1)
        )
        digest, size = file_digest(folder / "threshold.json")
        for entry in manifest["files"]:
            if entry["path"] == "threshold.json":
                entry.update(sha256=digest, bytes=size)
        (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
        outcome = package_quality_gate(
            registry, platform.store, LINE, metadata(result, "edge_model_package"), _platform_key(platform)
        )
        assert not outcome.decision.passed and "signature does not verify" in outcome.decision.reason
        assert registry.by_alias("weld-ae-line-1", CHAMPION).version == champion.version  # type: ignore[union-attr]
    finally:
        for name, content in original.items():
            (folder / name).write_bytes(content)


def test_a_key_written_into_the_package_metadata_is_never_trusted(platform: Platform) -> None:
    """Whoever can write a package and the materialisation that describes it must still not get it
    promoted: the checks verify with the platform signer's key, not the `public_key` of the metadata."""
    registry = platform.registry
    champion = registry.by_alias("weld-ae-line-1", CHAMPION)
    assert champion is not None
    honest = _new_candidate(platform)
    candidate = str(honest["model_version"])
    assert candidate != champion.version and honest["public_key"] == _platform_key(platform).public_key_b64
    folder = _package_folder(platform, "weld-ae-line-1", candidate)
    original = (folder / MANIFEST_FILE).read_bytes()
    platform_key_id = _platform_key(platform).key_id
    forger = ManifestSigner.from_base64(base64.b64encode(b"\x09" * 32).decode(), platform_key_id)
    forged = {
        **{k: honest[k] for k in ("model_name", "model_version", "mlflow_run_id", "telemetry_version")},
        **{k: honest[k] for k in ("parity_atol", "parity_rtol", "parity_windows", "gate_metric")},
        "gate_tolerance": 1.0,  # any score would pass: only the signature stands in the way
        "public_key": forger.public_key_b64,
        "signing_key_id": platform_key_id,
    }
    try:
        (folder / MANIFEST_FILE).write_text(json.dumps(sign_manifest(json.loads(original), forger)))
        assert verify_signature(json.loads((folder / MANIFEST_FILE).read_text()), forger.public_key_b64)
        platform.instance.report_runless_asset_event(
            dg.AssetMaterialization("edge_model_package", partition=LINE, metadata=forged)
        )
        checks_only = dg.define_asset_job(
            "package_checks_only",
            selection=dg.AssetSelection.checks_for_assets("edge_model_package"),
            partitions_def=line_partitions,
        )
        job = dg.Definitions.merge(platform.defs, dg.Definitions(jobs=[checks_only])).resolve_job_def(
            "package_checks_only"
        )
        result = job.execute_in_process(
            instance=platform.instance, tags={"dagster/partition": LINE}, raise_on_error=False
        )
        found = checks(result)
        assert set(found) == {"package_matches_torch_model", "package_passes_quality_gate"}
        for check in found.values():
            reason = str(check.metadata["reason"].value)
            assert not check.passed and "signature does not verify" in reason, reason
        assert registry.by_alias("weld-ae-line-1", CHAMPION).version == champion.version  # type: ignore[union-attr]
        assert registry.client.get_model_version("weld-ae-line-1", candidate).tags["quality_gate"] == "failed"
    finally:
        (folder / MANIFEST_FILE).write_bytes(original)


def test_the_champion_judged_again_is_already_champion(platform: Platform) -> None:
    registry = platform.registry
    package = _new_candidate(platform)
    version = package["model_version"]
    before = registry.by_alias(MODEL, CHAMPION)
    assert before is not None and before.version != version
    assert registry.promote(MODEL, version) is not None  # made champion by hand, then its gate runs again

    outcome = package_quality_gate(registry, platform.store, LINE, package, _platform_key(platform))
    assert (
        outcome.decision.passed
        and outcome.decision.reason == f"v{version} is already champion: nothing to compare it with"
    ), outcome.decision.reason
    assert outcome.previous_champion is None  # nothing was replaced: it is not its own previous champion
    assert registry.by_alias(MODEL, CHAMPION).version == version  # type: ignore[union-attr]
    assert registry.by_alias(MODEL, PREVIOUS_CHAMPION).version == before.version  # type: ignore[union-attr]
    tags = registry.client.get_model_version(MODEL, version).tags
    assert tags["quality_gate"] == "passed" and tags["quality_gate_reason"] == outcome.decision.reason


def test_a_signal_missing_on_the_held_out_days_is_judged_not_an_error(
    platform: Platform, tmp_path: Path
) -> None:
    """The line stopped sending a signal both models were trained on: every held-out day has it all
    null. Both are scored with it missing, as the edge would run them, and the gate decides."""
    registry = platform.registry
    key = _platform_key(platform)
    package = _new_candidate(platform)
    champion = registry.by_alias(MODEL, CHAMPION)
    assert champion is not None and champion.version != package["model_version"]
    candidate_folder = _package_folder(platform, MODEL, package["model_version"])
    dropped = load_package(candidate_folder, key.public_key_b64).spec.signals[0]
    assert dropped in load_package(_package_folder(platform, MODEL, champion.version), None).spec.signals

    # A copy of the lake, so the module's telemetry stays as it is for the other tests.
    shutil.copytree(platform.home / "lake", tmp_path / "lake")
    lake = LakeStore(str(tmp_path / "lake"))
    rows = read_line_telemetry(lake, LINE, int(package["telemetry_version"]))
    assert rows[dropped].null_count() < rows.height  # the model learnt it with values
    silent = rows.with_columns(pl.lit(None, dtype=pl.Float64).alias(dropped))
    written = lake.replace_where(VALIDATED_TELEMETRY, silent, f"line = '{LINE}'")
    later = {**package, "telemetry_version": written.version}

    outcome = package_quality_gate(registry, lake, LINE, later, key)
    decision = outcome.decision
    assert decision.candidate is not None and decision.champion is not None, decision.reason
    assert decision.reason.startswith(f"{decision.metric} "), decision.reason  # a comparison, not a refusal
    tags = registry.client.get_model_version(MODEL, package["model_version"]).tags
    assert tags["quality_gate"] == ("passed" if decision.passed else "failed")
    assert tags["quality_gate_reason"] == decision.reason


def test_a_champion_that_cannot_be_scored_is_a_recorded_refusal(platform: Platform) -> None:
    """The champion's spec names a signal `validated_telemetry` has no column for: it cannot be judged
    on today's data, so the gate fails closed with the reason, instead of erroring and leaving the
    candidate pending."""
    registry = platform.registry
    champion = registry.by_alias(MODEL, CHAMPION)
    assert champion is not None
    folder = _package_folder(platform, MODEL, champion.version)
    original = {name: (folder / name).read_bytes() for name in (MANIFEST_FILE, FEATURE_SPEC_FILE)}
    spec = json.loads(original[FEATURE_SPEC_FILE])
    spec["signals"][0] = "retired_signal"
    try:
        _resign(platform, folder, FEATURE_SPEC_FILE, json.dumps(spec))
        load_package(folder, _platform_key(platform).public_key_b64)  # a valid package of the platform
        result = platform.materialize(LINE, selection=GATE_AND_PACKAGE)
        found = checks(result)
        assert found["package_matches_torch_model"].passed  # the candidate itself is fine
        gate = found["package_passes_quality_gate"]
        reason = str(gate.metadata["reason"].value)  # type: ignore[attr-defined]
        assert not gate.passed, reason
        assert f"champion v{champion.version} cannot be scored" in reason and "retired_signal" in reason, (
            reason
        )
        candidate = metadata(result, "edge_model_package")["model_version"]
        tags = registry.client.get_model_version(MODEL, candidate).tags
        assert tags["quality_gate"] == "failed" and tags["quality_gate_reason"] == reason
        assert registry.by_alias(MODEL, CHAMPION).version == champion.version  # type: ignore[union-attr]
    finally:
        for name, content in original.items():
            (folder / name).write_bytes(content)


def test_features_cut_again_since_training_are_refused_until_the_chain_runs(platform: Platform) -> None:
    registry = platform.registry
    evaluation = metadata(
        platform.materialize(LINE, selection=dg.AssetSelection.assets("model_evaluation")), "model_evaluation"
    )
    assert evaluation["level"] == "weld"
    package_meta = _new_candidate(platform)
    recut = platform.materialize(
        LINE,
        {"weld_features": {"config": {"window": 16}}},
        selection=dg.AssetSelection.assets("weld_features"),
    )
    assert recut.success
    for selection in (
        dg.AssetSelection.assets("anomaly_threshold"),
        dg.AssetSelection.assets("model_evaluation"),
        GATE_AND_PACKAGE,
    ):
        result = platform.materialize(LINE, selection=selection)
        assert not result.success
        assert any("feature spec" in message for message in _failures(result)), _failures(result)
    with pytest.raises(FeaturesMismatch, match="materialise the chain from weld_features"):
        package_parity(registry, platform.store, LINE, package_meta, _platform_key(platform))

    # The table cut again behind the back of the latest materialisation (a concurrent run, say): the
    # spec that weld_features reported is not what the table holds, so training refuses to start.
    reported = metadata(recut, "weld_features")["spec_id"]
    telemetry = telemetry_slice(platform.store, LINE).frame
    behind = steps.build_features(
        platform.store,
        LINE,
        telemetry,
        label_map(platform.store, LINE),
        window=32,
        stride=8,
        val_fraction=0.2,
        holdout_fraction=0.3,
    )
    assert behind.spec_id != reported
    result = platform.materialize(LINE, FAST, selection=dg.AssetSelection.assets("anomaly_autoencoder"))
    assert not result.success
    failures = _failures(result)
    assert any(
        f"not {reported} that weld_features reported" in m and "materialise the chain from weld_features" in m
        for m in failures
    ), failures
    experiment = registry.client.get_experiment_by_name("weld-anomaly/line-1")
    assert experiment is not None
    runs = registry.client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.dagster_run_id = '{result.run_id}'"
    )
    assert [run.info.status for run in runs] == ["FAILED"]  # recorded as failed, never as a model

    # Cut again with the model's settings on the same telemetry: the same spec, usable again.
    assert platform.materialize(LINE, selection=dg.AssetSelection.assets("weld_features")).success
    assert platform.materialize(LINE, selection=dg.AssetSelection.assets("model_evaluation")).success
