"""The package manifest: its canonical signed form, its signature, and the shape the loader relies on.

`check_manifest` turns anything malformed (not an object, a field missing or of the wrong type, a file
entry that is not {path, sha256, bytes}, a signature that is not base64 of 64 bytes) into a
`PackageError` naming the field, so no KeyError, TypeError or decoding error escapes a package load.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "PackageError",
    "check_manifest",
    "deployment_content",
    "deployment_signature_problem",
    "listed_files",
    "positive_number",
    "signed_content",
    "verify_signature",
]

_DEPLOYMENT_SIGNATURE = "deployment_signature"
_UNSIGNED_FIELDS = frozenset({"signature", "rollout", "package_uri", _DEPLOYMENT_SIGNATURE})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ED25519_SIGNATURE_BYTES = 64


class PackageError(ValueError):
    """A package that must not be served: missing or altered file, bad signature, unreadable spec."""


def signed_content(manifest: Mapping[str, Any]) -> bytes:
    """What the package `signature` signs: the manifest without the deployment's fields."""
    return _canonical({k: v for k, v in manifest.items() if k not in _UNSIGNED_FIELDS})


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def deployment_content(manifest: Mapping[str, Any]) -> bytes:
    """What `deployment_signature` signs: the whole deployment manifest (rollout and package_uri
    included) but that field, in the canonical form of `signed_content`."""
    return _canonical({k: v for k, v in manifest.items() if k != _DEPLOYMENT_SIGNATURE})


def deployment_signature_problem(
    manifest: Mapping[str, Any], public_key_b64: str, key_id: str | None
) -> str | None:
    """None when the deployment signature verifies with the key (and `key_id`, when given), else why not."""
    signature = manifest.get(_DEPLOYMENT_SIGNATURE)
    if not isinstance(signature, Mapping):
        return "the manifest has no deployment_signature"
    if key_id is not None and signature.get("key_id") != key_id:
        return f"the deployment is signed with key id {signature.get('key_id')!r}, not {key_id!r}"
    if not _ed25519_verifies(signature, deployment_content(manifest), public_key_b64):
        return "the deployment signature does not verify"
    return None


def _ed25519_verifies(signature: Mapping[str, Any], content: bytes, public_key_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if signature.get("algorithm") != "ed25519":
        return False
    value = signature.get("value")
    if not isinstance(value, str):
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(value, validate=True), content)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def verify_signature(manifest: Mapping[str, Any], public_key_b64: str) -> bool:
    """True when the manifest's ed25519 signature matches `public_key_b64` (raw 32-byte key, base64).

    False, never an exception, for a manifest whose signature is absent or malformed."""
    signature = manifest.get("signature")
    return isinstance(signature, Mapping) and _ed25519_verifies(
        signature, signed_content(manifest), public_key_b64
    )


def positive_number(value: object) -> bool:
    """A JSON number (not a boolean) that is finite, within the range of a float, and above zero."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value) and value > 0
    except OverflowError:  # a JSON integer beyond any float
        return False


def _inside_package(path: str) -> bool:
    """Relative, with no empty, `.` or `..` step: a listed file can only be one of the package's own."""
    return "\\" not in path and all(part not in ("", ".", "..") for part in path.split("/"))


def check_manifest(manifest: object, where: str, *, signed: bool) -> dict[str, Any]:
    """`manifest` as a dict once the fields the loader uses are there with their types. `signed`: the
    signature must be present (it is checked for shape and encoding whenever it is)."""
    if not isinstance(manifest, dict):
        raise PackageError(f"{where} must be a JSON object, got {type(manifest).__name__}")
    version = manifest.get("model_version")
    if not isinstance(version, str) or not version:
        raise PackageError(f"{where} field 'model_version' must be a non-empty string, got {version!r}")
    if not positive_number(manifest.get("threshold")):
        raise PackageError(
            f"{where} field 'threshold' must be a positive number, got {manifest.get('threshold')!r}"
        )
    signature = manifest.get("signature")
    if signature is None and not signed:
        return manifest  # inspecting an unsigned package, on purpose
    if not isinstance(signature, Mapping):
        raise PackageError(f"{where} field 'signature' must be an object, got {signature!r}")
    for field in ("algorithm", "key_id", "value"):
        if not isinstance(signature.get(field), str):
            raise PackageError(f"{where} signature.{field} must be a string, got {signature.get(field)!r}")
    if signature["algorithm"] != "ed25519":
        raise PackageError(
            f"{where} signature.algorithm {signature['algorithm']!r} is not supported (ed25519)"
        )
    try:
        raw = base64.b64decode(signature["value"], validate=True)
    except binascii.Error as exc:
        raise PackageError(f"{where} signature.value is not base64: {exc}") from None
    if len(raw) != _ED25519_SIGNATURE_BYTES:
        raise PackageError(
            f"{where} signature.value decodes to {len(raw)} bytes; an ed25519 signature has "
            f"{_ED25519_SIGNATURE_BYTES}"
        )
    return manifest


def listed_files(manifest: Mapping[str, Any], where: str) -> dict[str, tuple[str, int]]:
    """The manifest's `files` as {path: (sha256, bytes)}; PackageError naming the first bad entry."""
    files = manifest.get("files")
    if not isinstance(files, list) or not files:
        raise PackageError(f"{where} field 'files' must be a non-empty list, got {files!r}")
    listed: dict[str, tuple[str, int]] = {}
    for index, entry in enumerate(files):
        at = f"{where} files[{index}]"
        if not isinstance(entry, Mapping):
            raise PackageError(f"{at} must be an object with path, sha256 and bytes, got {entry!r}")
        path, digest, size = entry.get("path"), entry.get("sha256"), entry.get("bytes")
        if not isinstance(path, str) or not _inside_package(path):
            raise PackageError(f"{at}.path must be a relative path inside the package, got {path!r}")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise PackageError(f"{at}.sha256 must be 64 lowercase hex digits, got {digest!r}")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise PackageError(f"{at}.bytes must be a non-negative integer, got {size!r}")
        if path in listed:
            raise PackageError(f"{at}: {path} is listed twice")
        listed[path] = (digest, size)
    return listed
