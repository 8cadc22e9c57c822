"""The quality gate fails closed, each refusal recorded on the candidate with its reason: a champion that
no longer verifies, a key written into the metadata, a signal missing on the held-out days, a champion
that cannot be scored, features cut again since training (the platform: `conftest.py`)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from edge_agent.features import FEATURE_SPEC_FILE, MANIFEST_FILE, file_digest, load_package, verify_signature
from mlops_assets.lake import VALIDATED_TELEMETRY, LakeStore
from mlops_assets.ml.registry import CHAMPION, PREVIOUS_CHAMPION
from mlops_assets.ml.release.gate import package_quality_gate
from mlops_assets.ml.release.parity import package_parity
from mlops_assets.ml.release.signing import ManifestSigner, sign_manifest
from mlops_assets.ml.training.feature_table import FeaturesMismatch
from mlops_assets.ml.training.features import build_features
from mlops_assets.ml.training.labels import label_map
from mlops_assets.ml.training.telemetry import read_line_telemetry, telemetry_slice
from tests.mlops_assets.defs.packaging.support import (
    FAST,
    GATE_AND_PACKAGE,
    LINE,
    MODEL,
    new_candidate,
    package_folder,
    platform_key,
    resign,
    step_failures,
)
from tests.mlops_assets.defs.training.chain import Platform, checks, metadata


def test_a_champion_that_does_not_verify_with_the_platform_key_fails_the_gate_closed(
    platform: Platform,
) -> None:
    registry = platform.registry
    champion = registry.by_alias("weld-ae-line-1", CHAMPION)
    assert champion is not None
    folder = package_folder(platform, champion.name, champion.version)
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
            registry, platform.store, LINE, metadata(result, "edge_model_package"), platform_key(platform)
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
    honest = new_candidate(platform)
    candidate = str(honest["model_version"])
    assert candidate != champion.version and honest["public_key"] == platform_key(platform).public_key_b64
    folder = package_folder(platform, "weld-ae-line-1", candidate)
    original = (folder / MANIFEST_FILE).read_bytes()
    platform_key_id = platform_key(platform).key_id
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
    package = new_candidate(platform)
    version = package["model_version"]
    before = registry.by_alias(MODEL, CHAMPION)
    assert before is not None and before.version != version
    assert registry.promote(MODEL, version) is not None  # made champion by hand, then its gate runs again

    outcome = package_quality_gate(registry, platform.store, LINE, package, platform_key(platform))
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
    key = platform_key(platform)
    package = new_candidate(platform)
    champion = registry.by_alias(MODEL, CHAMPION)
    assert champion is not None and champion.version != package["model_version"]
    candidate_folder = package_folder(platform, MODEL, package["model_version"])
    dropped = load_package(candidate_folder, key.public_key_b64).spec.signals[0]
    assert dropped in load_package(package_folder(platform, MODEL, champion.version), None).spec.signals

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
    folder = package_folder(platform, MODEL, champion.version)
    original = {name: (folder / name).read_bytes() for name in (MANIFEST_FILE, FEATURE_SPEC_FILE)}
    spec = json.loads(original[FEATURE_SPEC_FILE])
    spec["signals"][0] = "retired_signal"
    try:
        resign(platform, folder, FEATURE_SPEC_FILE, json.dumps(spec))
        load_package(folder, platform_key(platform).public_key_b64)  # a valid package of the platform
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
    package_meta = new_candidate(platform)
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
        assert any("feature spec" in message for message in step_failures(result)), step_failures(result)
    with pytest.raises(FeaturesMismatch, match="materialise the chain from weld_features"):
        package_parity(registry, platform.store, LINE, package_meta, platform_key(platform))

    # The table cut again behind the back of the latest materialisation (a concurrent run, say): the
    # spec that weld_features reported is not what the table holds, so training refuses to start.
    reported = metadata(recut, "weld_features")["spec_id"]
    telemetry = telemetry_slice(platform.store, LINE).frame
    behind = build_features(
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
    failures = step_failures(result)
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
