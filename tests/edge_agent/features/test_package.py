"""`load_package` refuses every malformed or altered package with a `PackageError` that names the problem."""

from __future__ import annotations

import ast
import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import edge_agent.features
from edge_agent.contract import ContractValidator
from edge_agent.features import (
    FEATURE_SPEC_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    THRESHOLD_FILE,
    FeatureSpec,
    PackageError,
    file_digest,
    load_package,
    signed_content,
    verify_signature,
)
from edge_agent.files.fsutil import file_sha256

SPEC = FeatureSpec(("a", "b"), window=4, stride=2, center=(0.0, 1.0), scale=(1.0, 2.0))
THRESHOLDS: dict[str, Any] = {
    "format": 2,
    "window": {"value": 0.5, "method": "quantile", "params": {}},
    "weld": {"value": 0.4},
    "weld_aggregation": "p95",
    "weld_duration": {"value": 2.5, "center": 700.0, "scale": 20.0, "unit": "samples"},
}
KEY = Ed25519PrivateKey.from_private_bytes(b"\x05" * 32)
PUBLIC = base64.b64encode(KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def _build(
    folder: Path,
    *,
    spec: str = SPEC.to_json(),
    thresholds: str = json.dumps(THRESHOLDS),
    model: bytes = b"\x08\x07onnx-ish bytes",
) -> dict[str, Any]:
    """A signed package as the platform writes it, with the given file contents (hashes kept right)."""
    folder.mkdir()
    contents = {MODEL_FILE: model, FEATURE_SPEC_FILE: spec.encode(), THRESHOLD_FILE: thresholds.encode()}
    files = []
    for name, body in contents.items():
        (folder / name).write_bytes(body)
        digest, size = file_sha256(folder / name)
        files.append({"path": name, "sha256": digest, "bytes": size})
    manifest: dict[str, Any] = {
        "manifest_version": 1,
        "line": "line-1",
        "model_name": "weld-ae-line-1",
        "model_version": "3",
        "created_ms": 1_763_740_800_000,
        "package_uri": "file:///tmp/x",
        "files": files,
        "threshold": 0.5,
        "lineage": {"mlflow_run_id": "run-1", "training_data_version": 1, "git_commit": "abc"},
    }
    value = base64.b64encode(KEY.sign(signed_content(manifest))).decode()
    manifest["signature"] = {"algorithm": "ed25519", "key_id": "k1", "value": value}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    return manifest


def test_a_well_formed_package_is_contract_valid_and_loads(
    tmp_path: Path, contract_validator: ContractValidator
) -> None:
    manifest = _build(tmp_path / "pkg")
    _, error = contract_validator.check_data("modelManifest", manifest)
    assert error is None, error
    package = load_package(tmp_path / "pkg", PUBLIC, key_id="k1")
    assert package.spec == SPEC and package.window_threshold == 0.5 and package.weld_scorer is not None


# Each edit mutates the manifest in place (returning None) or returns what to write instead.
MALFORMED_MANIFESTS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("not json", lambda m: "{not json", r"manifest\.json is not readable JSON"),
    ("a list", lambda m: [m], r"manifest\.json must be a JSON object, got list"),
    ("no model_version", lambda m: m.pop("model_version") and None, r"'model_version'"),
    ("no threshold", lambda m: m.pop("threshold") and None, r"'threshold' must be a positive number"),
    (
        "threshold beyond any float",
        lambda m: m.update(threshold=10**400),
        r"'threshold' must be a positive number",
    ),
    ("no files", lambda m: m.pop("files") and None, r"'files' must be a non-empty list"),
    (
        "files as a mapping",
        lambda m: m.update(files={f["path"]: f["sha256"] for f in m["files"]}),
        r"'files' must be a non-empty list",
    ),
    (
        "entry not an object",
        lambda m: m["files"].__setitem__(0, "model.onnx"),
        r"files\[0\] must be an object",
    ),
    ("entry without sha256", lambda m: m["files"][0].pop("sha256") and None, r"files\[0\]\.sha256"),
    ("sha256 not hex", lambda m: m["files"][0].update(sha256="zz" * 32), r"files\[0\]\.sha256"),
    ("bytes as text", lambda m: m["files"][1].update(bytes="812"), r"files\[1\]\.bytes"),
    ("escaping path", lambda m: m["files"][2].update(path="../threshold.json"), r"files\[2\]\.path"),
    ("absolute path", lambda m: m["files"][2].update(path="/etc/passwd"), r"files\[2\]\.path"),
    (
        "listed twice",
        lambda m: m["files"].append(dict(m["files"][0])),
        r"files\[3\]: model\.onnx is listed twice",
    ),
    ("signature a string", lambda m: m.update(signature="abc"), r"'signature' must be an object"),
    ("signature missing", lambda m: m.pop("signature") and None, r"'signature' must be an object, got None"),
    ("value a number", lambda m: m["signature"].update(value=7), r"signature\.value must be a string"),
    (
        "value not base64",
        lambda m: m["signature"].update(value="!!not base64!!"),
        r"signature\.value is not base64",
    ),
    (
        "value too short",
        lambda m: m["signature"].update(value="AAAA"),
        r"signature\.value decodes to 3 bytes",
    ),
    ("another algorithm", lambda m: m["signature"].update(algorithm="rsa"), r"signature\.algorithm 'rsa'"),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [(c, m) for _, c, m in MALFORMED_MANIFESTS],
    ids=[i for i, _, _ in MALFORMED_MANIFESTS],
)
def test_a_malformed_manifest_is_a_package_error_naming_the_field(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], message: str
) -> None:
    manifest = _build(tmp_path / "pkg")
    replaced = change(manifest)
    text = replaced if isinstance(replaced, str) else json.dumps(manifest if replaced is None else replaced)
    (tmp_path / "pkg" / MANIFEST_FILE).write_text(text)
    with pytest.raises(PackageError, match=message):
        load_package(tmp_path / "pkg", PUBLIC)


MALFORMED_FILES: list[tuple[str, dict[str, Any], str]] = [
    ("thresholds not json", {"thresholds": "{"}, r"threshold\.json is not readable JSON"),
    ("thresholds a list", {"thresholds": "[]"}, r"threshold\.json cannot be used: must be a JSON object"),
    ("no window", {"thresholds": json.dumps({"weld": None})}, r"window\.value must be a positive"),
    (
        "zero window threshold",
        {"thresholds": json.dumps({**THRESHOLDS, "window": {"value": 0}})},
        r"window\.value must be a positive",
    ),
    (
        "window threshold not the signed one",
        {"thresholds": json.dumps({**THRESHOLDS, "window": {"value": 0.7}})},
        r"window\.value 0\.7 differs from the manifest's threshold 0\.5",
    ),
    ("zero weld threshold", {"thresholds": json.dumps({**THRESHOLDS, "weld": {"value": 0}})}, r"weld\.value"),
    ("weld as a list", {"thresholds": json.dumps({**THRESHOLDS, "weld": [0.4]})}, r"weld must be an object"),
    (
        "percentile above 100",
        {"thresholds": json.dumps({**THRESHOLDS, "weld_aggregation": "p150"})},
        r"weld_aggregation.*p150.*at most p100",
    ),
    (
        "negative duration scale",
        {
            "thresholds": json.dumps(
                {**THRESHOLDS, "weld_duration": {**THRESHOLDS["weld_duration"], "scale": -1}}
            )
        },
        r"weld_duration\.scale must be a positive",
    ),
    (
        "weld threshold beyond any float",
        {"thresholds": json.dumps({**THRESHOLDS, "weld": {"value": 10**400}})},
        r"weld\.value",
    ),
    (
        "duration centre beyond any float",
        {
            "thresholds": json.dumps(
                {**THRESHOLDS, "weld_duration": {**THRESHOLDS["weld_duration"], "center": 10**400}}
            )
        },
        r"weld_duration\.center",
    ),
    (
        "spec clip beyond any float",
        {"spec": json.dumps({**SPEC.to_dict(), "clip": 10**400})},
        r"'clip'",
    ),
    (
        "spec centre beyond any float",
        {"spec": json.dumps({**SPEC.to_dict(), "center": [10**400] * len(SPEC.signals)})},
        r"'center'",
    ),
    ("spec not json", {"spec": "nope"}, r"feature_spec\.json is not readable JSON"),
    ("spec a list", {"spec": "[1]"}, r"feature_spec\.json cannot be used: a feature spec must be an object"),
    (
        "spec without signals",
        {"spec": json.dumps({**SPEC.to_dict(), "signals": [], "center": [], "scale": []})},
        r"at least one signal",
    ),
    (
        "signals a string",
        {"spec": json.dumps({**SPEC.to_dict(), "signals": "ab"})},
        r"'signals' must be a list of strings",
    ),
    ("window zero", {"spec": json.dumps({**SPEC.to_dict(), "window": 0})}, r"window and stride must be >= 1"),
    ("stride zero", {"spec": json.dumps({**SPEC.to_dict(), "stride": 0})}, r"window and stride must be >= 1"),
    (
        "window fractional",
        {"spec": json.dumps({**SPEC.to_dict(), "window": 4.5})},
        r"'window' must be an integer",
    ),
    (
        "scale as text",
        {"spec": json.dumps({**SPEC.to_dict(), "scale": ["1", "2"]})},
        r"'scale' must be a list of numbers",
    ),
]


@pytest.mark.parametrize(
    ("files", "message"), [(f, m) for _, f, m in MALFORMED_FILES], ids=[i for i, _, _ in MALFORMED_FILES]
)
def test_a_malformed_threshold_or_spec_file_is_a_package_error(
    tmp_path: Path, files: dict[str, Any], message: str
) -> None:
    _build(tmp_path / "pkg", **files)  # correctly hashed and signed: the content itself is wrong
    with pytest.raises(PackageError, match=message):
        load_package(tmp_path / "pkg", PUBLIC)


def test_a_truncated_or_empty_model_is_refused_by_name(tmp_path: Path) -> None:
    _build(tmp_path / "pkg")
    model = tmp_path / "pkg" / MODEL_FILE
    model.write_bytes(model.read_bytes()[:5])
    with pytest.raises(
        PackageError, match=r"model\.onnx does not match its SHA-256.*5 bytes, the manifest says 16"
    ):
        load_package(tmp_path / "pkg", PUBLIC)
    _build(tmp_path / "empty", model=b"")  # signed with its (empty) hash: still nothing to serve
    with pytest.raises(PackageError, match=r"model\.onnx is empty"):
        load_package(tmp_path / "empty", PUBLIC)


def test_verify_signature_is_false_not_an_exception_for_malformed_signatures(tmp_path: Path) -> None:
    manifest = _build(tmp_path / "pkg")
    assert verify_signature(manifest, PUBLIC)
    for signature in (
        "abc",
        {"algorithm": "ed25519", "value": 7},
        {"algorithm": "ed25519", "value": "!!"},
        None,
    ):
        assert not verify_signature({**manifest, "signature": signature}, PUBLIC)


def test_package_digests_use_the_one_shared_sha256_helper() -> None:
    assert file_digest is file_sha256
    folder = Path(edge_agent.features.__file__).parent
    importing_hashlib = [
        path.name
        for path in folder.glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if (isinstance(node, ast.Import) and any(a.name == "hashlib" for a in node.names))
        or (isinstance(node, ast.ImportFrom) and node.module == "hashlib")
    ]
    assert importing_hashlib == [], (
        f"a second SHA-256 of files in {importing_hashlib}: use fsutil.file_sha256"
    )
