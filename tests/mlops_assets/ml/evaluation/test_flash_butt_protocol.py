"""The flash-butt measurement's study protocol (DEV/TEST) sits on the product's own train/validation split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.domain import flash_butt_records
from mlops_assets.ml.autoencoder.dataset import Segment, split_segments
from mlops_assets.ml.evaluation.flash_butt_eval import study_split


@pytest.mark.realdata
def test_study_split_shares_train_and_validation_with_the_product_split(flash_butt_dir: Path) -> None:
    records = flash_butt_records(flash_butt_dir)
    study = study_split(records)
    assert {k: len(v) for k, v in study.items()} == {
        "train": 1118,
        "validation": 279,
        "dev": 325,
        "test": 324,
    }
    names = list(study)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not study[a] & study[b], (a, b)
    assert set().union(*study.values()) == {r.weld_id for r in records}
    bad = {r.weld_id for r in records if not r.good}
    assert len(study["dev"] & bad) == len(study["test"] & bad) == 25

    # The product's split (what `weld_features` does) on the same welds in the same order.
    segments = [
        Segment(
            key=r.weld_id, values=np.empty((0, 1)), start=float(i), weld_id=r.weld_id, label=int(not r.good)
        )
        for i, r in enumerate(records)
    ]
    split = split_segments(segments, val_fraction=0.2, holdout_fraction=0.3)
    assert {s.key for s in split.train} == study["train"]
    assert {s.key for s in split.validation} == study["validation"]
    assert {s.key for s in split.holdout} == study["dev"] | study["test"]
