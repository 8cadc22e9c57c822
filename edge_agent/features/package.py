"""The edge model package: its file names, and a loader that verifies before it trusts.

A package is a folder of `model.onnx`, `feature_spec.json`, `threshold.json`, `reference_profile.parquet`
and `manifest.json` (every other file with its SHA-256 and size, signed); README, "The package".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.features.manifest import (
    PackageError,
    check_manifest,
    listed_files,
    positive_number,
    signed_content,
    verify_signature,
)
from edge_agent.features.spec import FeatureSpec
from edge_agent.features.thresholds import PackageThresholds
from edge_agent.features.weld_score import WeldScorer
from edge_agent.files.fsutil import file_sha256

__all__ = [
    "FEATURE_SPEC_FILE",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "PROFILE_FILE",
    "THRESHOLD_FILE",
    "EdgePackage",
    "PackageError",
    "file_digest",
    "load_package",
    "signed_content",
    "verify_signature",
]

MODEL_FILE = "model.onnx"
FEATURE_SPEC_FILE = "feature_spec.json"
THRESHOLD_FILE = "threshold.json"
PROFILE_FILE = "reference_profile.parquet"
MANIFEST_FILE = "manifest.json"

file_digest = file_sha256
"""(SHA-256 hex, size in bytes) of a file: the one shared `edge_agent.files.fsutil.file_sha256`."""


@dataclass(frozen=True)
class EdgePackage:
    root: Path
    manifest: dict[str, Any]
    spec: FeatureSpec
    thresholds: PackageThresholds

    @property
    def model_path(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def window_threshold(self) -> float:
        return self.thresholds.window.value

    @property
    def model_version(self) -> str:
        return str(self.manifest["model_version"])

    @property
    def weld_scorer(self) -> WeldScorer | None:
        """The weld score of this package (shape and, from format 2, duration); None without a weld level."""
        return self.thresholds.weld_scorer


def _read_json(root: Path, name: str) -> Any:
    try:
        return json.loads((root / name).read_bytes())
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError and UnicodeDecodeError
        raise PackageError(f"{root}: {name} is not readable JSON: {exc}") from None


def _check_files(root: Path, listed: Mapping[str, tuple[str, int]]) -> None:
    """Every listed file present with its size and hash, the required ones listed, nothing unlisted."""
    for required in (MODEL_FILE, FEATURE_SPEC_FILE, THRESHOLD_FILE):
        if required not in listed:
            raise PackageError(f"{root}: the manifest does not list {required}")
    for name, (expected_digest, expected_size) in listed.items():
        path = root / name
        if not path.is_file():
            raise PackageError(f"{root}: {name} is listed but missing")
        digest, size = file_sha256(path)
        if digest != expected_digest or size != expected_size:
            sizes = f" ({size} bytes, the manifest says {expected_size})" if size != expected_size else ""
            raise PackageError(f"{root}: {name} does not match its SHA-256 in the manifest{sizes}")
    if listed[MODEL_FILE][1] == 0:
        raise PackageError(f"{root}: {MODEL_FILE} is empty")
    unlisted = sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != MANIFEST_FILE
    )
    extra = [p for p in unlisted if p not in listed]
    if extra:
        raise PackageError(f"{root}: files not covered by the manifest: {extra}")


def _check_thresholds(root: Path, thresholds: Any, manifest_threshold: float) -> PackageThresholds:
    """The window threshold (equal to the signed manifest's copy) and the weld score's parameters."""
    try:
        if not isinstance(thresholds, dict):
            raise ValueError(f"must be a JSON object, got {type(thresholds).__name__}")
        window = thresholds.get("window")
        value = window.get("value") if isinstance(window, Mapping) else None
        if not positive_number(value):
            raise ValueError(f"window.value must be a positive finite number, got {value!r}")
        if value != manifest_threshold:
            raise ValueError(
                f"window.value {value!r} differs from the manifest's threshold {manifest_threshold!r}"
            )
        return PackageThresholds.from_dict(thresholds)  # refuse now what could not be scored later
    except (ValueError, KeyError, TypeError) as exc:
        raise PackageError(f"{root}: {THRESHOLD_FILE} cannot be used: {exc}") from exc


def load_package(root: Path, public_key_b64: str | None, *, key_id: str | None = None) -> EdgePackage:
    """Read and verify a package folder: every listed file present with its hash, no unlisted file, a
    manifest signed with `key_id` (when given) and a signature valid for `public_key_b64`. Raises
    `PackageError` naming what is wrong, malformed files included (never a KeyError or a JSON error).

    The signature covers `signed_content(manifest)` (see `manifest`): the files are pinned by their
    hashes, while where they sit and which agents get them are deployment decisions taken later.

    The key is required on purpose: `None` skips the signature check and must be written out by the
    caller (inspecting a package whose key is unknown); anything that serves or promotes a package
    passes the key it trusts."""
    if not (root / MANIFEST_FILE).is_file():
        raise PackageError(f"{root}: no {MANIFEST_FILE}")
    where = f"{root}: {MANIFEST_FILE}"
    signed = public_key_b64 is not None or key_id is not None
    manifest = check_manifest(_read_json(root, MANIFEST_FILE), where, signed=signed)
    signed_with = (manifest.get("signature") or {}).get("key_id")
    if key_id is not None and signed_with != key_id:
        raise PackageError(
            f"{root}: the manifest is signed with key id {signed_with!r}, not {key_id!r}: "
            "it cannot be verified with that key"
        )
    _check_files(root, listed_files(manifest, where))
    if public_key_b64 is not None and not verify_signature(manifest, public_key_b64):
        raise PackageError(f"{root}: the manifest signature does not verify")
    try:
        spec = FeatureSpec.from_dict(_read_json(root, FEATURE_SPEC_FILE))
    except PackageError:
        raise
    except (ValueError, TypeError) as exc:
        raise PackageError(f"{root}: {FEATURE_SPEC_FILE} cannot be used: {exc}") from exc
    thresholds = _check_thresholds(root, _read_json(root, THRESHOLD_FILE), float(manifest["threshold"]))
    return EdgePackage(root=root, manifest=manifest, spec=spec, thresholds=thresholds)
