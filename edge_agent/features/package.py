"""The edge model package: layout, manifest canonical form, and a loader that verifies before it trusts.

A package is a folder (or the same files under an URI prefix):

    model.onnx              input `windows` (batch, window * n_signals) float32; outputs `score` (batch,),
                            `signal_errors` (batch, n_signals), `reconstruction` (batch, window * n_signals)
    feature_spec.json       `FeatureSpec`: signals, window, stride, centre and scale per signal
    threshold.json          {"format": 2, "window": {value, method, params}, "weld": {...} | null,
                            "weld_aggregation": ..., "weld_duration": {value, center, scale, unit, ...} | null,
                            "signal_errors": {...}}: the weld score is `weld_score.WeldScorer` (a file
                            without "format" is format 1: shape only, as packages built before it)
    reference_profile.parquet  per-window mean and std of each signal on validation data (drift reference)
    manifest.json           the contract's `modelManifest`: every other file with its SHA-256 and size,
                            the threshold, the lineage, and an ed25519 signature

The signature covers `signed_content(manifest)`: the manifest without `signature`, `rollout` and
`package_uri` (where the files sit and which agents get them are deployment decisions taken later; the
files themselves are pinned by their hashes), as JSON with sorted keys and no whitespace.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_agent.features.spec import FeatureSpec
from edge_agent.features.weld_score import WeldScorer

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
_UNSIGNED_FIELDS = frozenset({"signature", "rollout", "package_uri"})


class PackageError(ValueError):
    """A package that must not be served: missing or altered file, bad signature, unreadable spec."""


def signed_content(manifest: Mapping[str, Any]) -> bytes:
    payload = {k: v for k, v in manifest.items() if k not in _UNSIGNED_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def file_digest(path: Path) -> tuple[str, int]:
    """(SHA-256 hex, size in bytes) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_signature(manifest: Mapping[str, Any], public_key_b64: str) -> bool:
    """True when the manifest's ed25519 signature matches `public_key_b64` (raw 32-byte key, base64)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature = manifest.get("signature") or {}
    if signature.get("algorithm") != "ed25519":
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature["value"]), signed_content(manifest))
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


@dataclass(frozen=True)
class EdgePackage:
    root: Path
    manifest: dict[str, Any]
    spec: FeatureSpec
    thresholds: dict[str, Any]

    @property
    def model_path(self) -> Path:
        return self.root / MODEL_FILE

    @property
    def window_threshold(self) -> float:
        return float(self.thresholds["window"]["value"])

    @property
    def model_version(self) -> str:
        return str(self.manifest["model_version"])

    @property
    def weld_scorer(self) -> WeldScorer | None:
        """The weld score of this package (shape and, from format 2, duration); None without a weld level."""
        return WeldScorer.from_thresholds(self.thresholds)


def load_package(root: Path, public_key_b64: str | None, *, key_id: str | None = None) -> EdgePackage:
    """Read and verify a package folder: every listed file present with its hash, no unlisted file, a
    manifest signed with `key_id` (when given) and a signature valid for `public_key_b64`. Raises
    `PackageError` naming what is wrong.

    The key is required on purpose: `None` skips the signature check and must be written out by the
    caller (inspecting a package whose key is unknown); anything that serves or promotes a package
    passes the key it trusts."""
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise PackageError(f"{root}: no {MANIFEST_FILE}")
    manifest = json.loads(manifest_path.read_text())
    signed_with = (manifest.get("signature") or {}).get("key_id")
    if key_id is not None and signed_with != key_id:
        raise PackageError(
            f"{root}: the manifest is signed with key id {signed_with!r}, not {key_id!r}: "
            "it cannot be verified with that key"
        )
    listed = {entry["path"]: entry for entry in manifest.get("files", [])}
    for required in (MODEL_FILE, FEATURE_SPEC_FILE, THRESHOLD_FILE):
        if required not in listed:
            raise PackageError(f"{root}: the manifest does not list {required}")
    for name, entry in listed.items():
        path = root / name
        if not path.is_file():
            raise PackageError(f"{root}: {name} is listed but missing")
        digest, size = file_digest(path)
        if digest != entry["sha256"] or size != entry["bytes"]:
            raise PackageError(f"{root}: {name} does not match its SHA-256 in the manifest")
    unlisted = sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != MANIFEST_FILE
    )
    extra = [p for p in unlisted if p not in listed]
    if extra:
        raise PackageError(f"{root}: files not covered by the manifest: {extra}")
    if public_key_b64 is not None and not verify_signature(manifest, public_key_b64):
        raise PackageError(f"{root}: the manifest signature does not verify")
    spec = FeatureSpec.from_json((root / FEATURE_SPEC_FILE).read_text())
    thresholds = json.loads((root / THRESHOLD_FILE).read_text())
    try:
        WeldScorer.from_thresholds(thresholds)  # refuse now what could not be scored later
    except (ValueError, KeyError, TypeError) as exc:
        raise PackageError(f"{root}: {THRESHOLD_FILE} cannot be used: {exc}") from exc
    return EdgePackage(root=root, manifest=manifest, spec=spec, thresholds=thresholds)
