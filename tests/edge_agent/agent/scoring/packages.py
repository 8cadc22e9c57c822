"""Real model packages for the agent's tests, built and deployed with the platform's own code.

A package is the platform's autoencoder (seeded, untrained: its scores are real ONNX Runtime output of
the production graph), exported with the platform's exporter, thresholded on normal simulated windows,
signed with a test key (`build_package`), then staged in a landing folder's `_models/` area and
deployed with a signed deployment manifest (`mlops_assets.ml.rollout.deployments`).
"""

from __future__ import annotations

import functools
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge_agent.domain import LineAddress, batch_weld
from edge_agent.features import (
    MANIFEST_FILE,
    MODEL_FILE,
    DurationModel,
    FeatureSpec,
    fill_missing,
    standardise,
    window_matrix,
    window_profile,
)
from edge_agent.features.thresholds import PackageThresholds, Threshold
from edge_agent.files.fsutil import file_sha256
from edge_agent.simulator import SIGNALS, SyntheticWeldGenerator
from mlops_assets.landing.zone import LocalLandingZone
from mlops_assets.ml.autoencoder.model import AutoencoderConfig, build_scorer
from mlops_assets.ml.release.onnx_export import export_onnx
from mlops_assets.ml.release.packaging import Lineage, build_package
from mlops_assets.ml.release.signing import ManifestSigner, sign_manifest
from mlops_assets.ml.rollout.deployments import deployment_manifest, package_area, stage_package

KEY_ID = "test-platform"
SIGNER = ManifestSigner(KEY_ID, Ed25519PrivateKey.from_private_bytes(b"\x11" * 32))
PUBLIC_KEY = SIGNER.public_key_b64
OTHER_SIGNER = ManifestSigner(KEY_ID, Ed25519PrivateKey.from_private_bytes(b"\x22" * 32))
ADDRESS = LineAddress()
MODEL_NAME = "weld-ae-line-1"
SPEC = FeatureSpec(
    signals=SIGNALS,
    window=32,
    stride=8,
    center=(210.0, 24.0, 8.0, 15.0, 6.0),
    scale=(15.0, 1.5, 1.0, 0.5, 0.5),
)


@functools.cache
def _normal_windows() -> np.ndarray:
    generator = SyntheticWeldGenerator(cell="cell-01", seed=11, start_ms=1_763_740_800_000)
    parts = []
    for _ in range(6):
        weld = generator.next_weld()
        values = np.column_stack([weld.signals[s] for s in SIGNALS])
        parts.append(window_matrix(standardise(fill_missing(values), SPEC), SPEC.window, SPEC.stride))
    return np.concatenate(parts)


@functools.cache
def onnx_model(seed: int) -> tuple[bytes, float]:
    """An exported scorer and the 0.99 quantile of its scores on normal windows."""
    torch.manual_seed(seed)
    scorer = build_scorer(
        SPEC.n_features, SPEC.n_signals, AutoencoderConfig(hidden=(32,), latent=4, seed=seed)
    )
    scorer.eval()
    with torch.no_grad():
        scores = scorer(torch.from_numpy(_normal_windows()))[0].numpy()
    return export_onnx(scorer, SPEC.n_features), float(np.quantile(scores, 0.99))


@functools.cache
def normal_profile() -> dict[str, np.ndarray]:
    """A realistic drift reference: the profile of normal simulated windows (about 1,500 rows: more than
    1,000, so Evidently compares with the method it uses for the platform's 5,000-window profiles)."""
    return window_profile(_normal_windows(), SPEC)


def make_package(
    folder: Path,
    version: str,
    *,
    seed: int = 1,
    threshold_scale: float = 1.0,
    realistic_profile: bool = False,
) -> dict[str, Any]:
    """A signed package in `folder`; `threshold_scale` below 1 makes a model that alarms on everything;
    `realistic_profile` ships `normal_profile()` as the drift reference (else four rows of zeros)."""
    model, threshold = onnx_model(seed)
    thresholds = PackageThresholds(
        window=Threshold(threshold * threshold_scale, "quantile", {"q": 0.99}),
        weld=Threshold(threshold * threshold_scale, "quantile", {"q": 0.99}),
        weld_aggregation="mean",
        weld_duration=DurationModel(center=2000.0, scale=300.0, bound=3.0, method="quantile", params={}),
    )
    profile = (
        normal_profile()
        if realistic_profile
        else {f"{s}__{stat}": np.zeros(4) for s in SIGNALS for stat in ("mean", "std")}
    )
    return build_package(
        folder,
        onnx_model=model,
        spec=SPEC,
        thresholds=thresholds,
        profile=profile,
        line=ADDRESS.line,
        model_name=MODEL_NAME,
        model_version=version,
        lineage=Lineage(f"run-{version}", 1, "test"),
        package_uri=str(folder),
        signer=SIGNER,
        created_ms=1_763_740_800_000,
    )


def make_corrupt_onnx_package(folder: Path, version: str) -> dict[str, Any]:
    """A package whose model.onnx is not a model, hashed and signed properly: it verifies, then cannot load."""
    manifest = make_package(folder, version)
    (folder / MODEL_FILE).write_bytes(b"\x08\x07 this is not an ONNX graph")
    digest, size = file_sha256(folder / MODEL_FILE)
    for entry in manifest["files"]:
        if entry["path"] == MODEL_FILE:
            entry.update(sha256=digest, bytes=size)
    signed = sign_manifest(manifest, SIGNER)
    (folder / MANIFEST_FILE).write_text(json.dumps(signed, indent=2, sort_keys=True))
    return signed


def deploy(
    landing: Path,
    folder: Path,
    manifest: dict[str, Any],
    *,
    stage: str = "fleet",
    agents: tuple[str, ...] = (),
    published_ms: int,
    signer: ManifestSigner = SIGNER,
) -> dict[str, Any]:
    """Stage the package in `landing`'s `_models/` area; the signed deployment manifest to publish."""
    area = package_area(ADDRESS, MODEL_NAME, manifest["model_version"])
    stage_package(LocalLandingZone(landing), folder, manifest, area)
    return deployment_manifest(
        manifest,
        package_uri=area,
        stage=stage,
        agents=agents,
        signer=signer,
        published_ms=published_ms,  # type: ignore[arg-type]
    )


def telemetry(cells: int = 2, welds_per_cell: int = 3, seed: int = 5) -> list[tuple[str, bytes]]:
    """Simulated welds of `cells` cells as (topic, payload), interleaved per cell in time order."""
    import orjson

    streams = []
    for index in range(cells):
        cell = f"cell-{index + 1:02d}"
        generator = SyntheticWeldGenerator(cell=cell, seed=seed, start_ms=1_763_740_800_000)
        seq, messages = 1, []
        for _ in range(welds_per_cell):
            for batch in batch_weld(generator.next_weld(), 100, seq):
                messages.append((ADDRESS.cell_topic(cell), orjson.dumps(batch.payload)))
                seq = batch.seq + 1
        streams.append(messages)
    return [m for group in itertools.zip_longest(*streams) for m in group if m is not None]
