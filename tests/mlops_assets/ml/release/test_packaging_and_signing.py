"""Package files, manifest hashes and ed25519 signatures; a tampered package is refused."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from edge_agent.contract import ContractValidator
from edge_agent.features import (
    MODEL_FILE,
    FeatureSpec,
    PackageError,
    PackageThresholds,
    Threshold,
    load_package,
    verify_signature,
)
from mlops_assets.ml.release.packaging import Lineage, build_package
from mlops_assets.ml.release.signing import ManifestSigner, load_or_create_dev_signer

SPEC = FeatureSpec(("a", "b"), window=4, stride=2, center=(0.0, 1.0), scale=(1.0, 2.0))
THRESHOLDS = PackageThresholds(
    window=Threshold(0.5, "quantile"), weld=None, weld_aggregation="mean", weld_duration=None, format=1
)


def _package(folder: Path, signer: ManifestSigner) -> dict:
    return build_package(
        folder,
        onnx_model=b"not really onnx",
        spec=SPEC,
        thresholds=THRESHOLDS,
        profile={"a__mean": np.array([1.0, 2.0])},
        line="line-1",
        model_name="weld-ae-line-1",
        model_version="3",
        lineage=Lineage("run-1", 42, "abc123"),
        package_uri="file:///tmp/x",
        signer=signer,
        created_ms=1_763_740_800_000,
    )


def test_package_is_contract_valid_signed_and_verifiable(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    signer = load_or_create_dev_signer(tmp_path / "keys")
    manifest = _package(tmp_path / "pkg", signer)
    _, error = contract_validator.check_data("modelManifest", manifest)
    assert error is None, error
    loaded = load_package(tmp_path / "pkg", signer.public_key_b64)
    assert loaded.spec == SPEC and loaded.window_threshold == 0.5 and loaded.model_version == "3"
    assert loaded.thresholds == THRESHOLDS
    assert {f["path"] for f in manifest["files"]} == {
        "model.onnx",
        "feature_spec.json",
        "threshold.json",
        "reference_profile.parquet",
    }
    # Deployment fields may change after signing; the package's content may not.
    assert verify_signature(
        {**manifest, "package_uri": "s3://elsewhere/3/", "rollout": {"stage": "fleet"}}, signer.public_key_b64
    )
    assert not verify_signature({**manifest, "threshold": 5.0}, signer.public_key_b64)


def test_tampering_or_a_foreign_key_is_refused(tmp_path: Path) -> None:
    signer = load_or_create_dev_signer(tmp_path / "keys")
    _package(tmp_path / "pkg", signer)
    other = ManifestSigner.from_base64(base64.b64encode(b"\x01" * 32).decode(), "other")
    with pytest.raises(PackageError, match="signature"):
        load_package(tmp_path / "pkg", other.public_key_b64)
    (tmp_path / "pkg" / "extra.bin").write_bytes(b"")
    with pytest.raises(PackageError, match="not covered"):
        load_package(tmp_path / "pkg", None)
    (tmp_path / "pkg" / MODEL_FILE).write_bytes(b"swapped")
    with pytest.raises(PackageError, match="SHA-256"):
        load_package(tmp_path / "pkg", None)


def test_a_package_signed_with_another_key_id_is_refused_by_name(tmp_path: Path) -> None:
    signer = load_or_create_dev_signer(tmp_path / "keys")
    _package(tmp_path / "pkg", signer)
    assert load_package(tmp_path / "pkg", signer.public_key_b64, key_id=signer.key_id).model_version == "3"
    with pytest.raises(PackageError, match="signed with key id 'local-dev', not 'platform'"):
        load_package(tmp_path / "pkg", signer.public_key_b64, key_id="platform")


def test_dev_key_is_created_once_and_reused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = load_or_create_dev_signer(tmp_path)
    second = load_or_create_dev_signer(tmp_path)
    assert first.public_key_b64 == second.public_key_b64
    assert "LOCAL DEVELOPMENT" in caplog.text
    assert (tmp_path / "dev_ed25519.key").stat().st_mode & 0o077 == 0
    with pytest.raises(ValueError, match="32-byte"):
        ManifestSigner.from_base64("bm90IGEga2V5", "x")
