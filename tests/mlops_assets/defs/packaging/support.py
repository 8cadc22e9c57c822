"""What the packaging tests share: the line, its model, and helpers that make and alter candidates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg

from edge_agent.features import MANIFEST_FILE, file_digest
from mlops_assets.ml.release.platform_key import PlatformKey
from mlops_assets.ml.release.signing import load_or_create_dev_signer, sign_manifest
from tests.mlops_assets.defs.training.chain import Platform, metadata

LINE = "line-1"
MODEL = "weld-ae-line-1"
GATE_AND_PACKAGE = dg.AssetSelection.assets("edge_model_package") | dg.AssetSelection.checks_for_assets(
    "edge_model_package"
)
FAST = {"anomaly_autoencoder": {"config": {"max_epochs": 12, "hidden": [64, 16], "latent": 6}}}


def platform_key(platform: Platform) -> PlatformKey:
    signer = load_or_create_dev_signer(platform.home / "signing")
    return PlatformKey(signer.key_id, signer.public_key_b64)


def package_folder(platform: Platform, name: str, version: str) -> Path:
    uri = platform.registry.client.get_model_version(name, version).tags["package_uri"]
    return Path(uri.removeprefix("file://"))


def new_candidate(platform: Platform, gate_tolerance: float = 0.0) -> dict[str, Any]:
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


def resign(platform: Platform, folder: Path, name: str, content: str) -> None:
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


def step_failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """The messages of the run's failed steps."""
    return [str(e.event_specific_data.error.message) for e in result.all_events if e.is_step_failure]  # type: ignore[union-attr]
