"""`mlops evaluate` on CSV exports it has never seen: one output row per input row, in order."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from mlops_assets.cli import main
from mlops_assets.ml.byod.evaluate_csv import evaluate_files


def _series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    load = np.sin(2 * np.pi * t / 50)
    return np.stack(
        [load + rng.normal(0, 0.05, n), 2 * load + rng.normal(0, 0.05, n), rng.normal(5, 0.1, n)], axis=1
    )


def _write(path: Path, header: list[str], rows: list[list[object]], sep: str = ",") -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    train = _series(1500, 1)
    _write(
        tmp_path / "normal.csv",
        ["", "timestamp", "flow", "pressure", "temp", "valve"],
        [
            [i, f"2024-01-01 00:{i // 60 % 60:02d}:{i % 60:02d}", *np.round(r, 4), 1]
            for i, r in enumerate(train)
        ],
        sep=";",
    )
    test = _series(600, 2)
    labels = np.zeros(600, dtype=int)
    labels[200:260] = 1
    test[200:260, 1] = -test[200:260, 1]  # pressure decouples from flow: only the joint shape is wrong
    labels[450:470] = 1
    test[450:470, 2] += 1.5
    rows = [
        [
            i,
            f"2024-01-02 00:{i // 60 % 60:02d}:{i % 60:02d}",
            *np.round(r, 4),
            1,
            "abnormal" if y else "normal",
        ]
        for i, (r, y) in enumerate(zip(test, labels, strict=True))
    ]
    rows[100][3] = ""  # a missing value
    _write(
        tmp_path / "other.csv", ["", "timestamp", "flow", "pressure", "temp", "valve", "state"], rows, sep=";"
    )
    return tmp_path / "normal.csv", tmp_path / "other.csv", labels


def test_predictions_align_with_rows_and_metrics_are_printed(
    files: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test, labels = files
    out = tmp_path / "predictions.csv"
    code = main(
        [
            "evaluate",
            "--train",
            str(train),
            "--test",
            str(test),
            "--out",
            str(out),
            "--label-column",
            "state",
            "--sep",
            ";",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    predictions = pl.read_csv(out)
    assert predictions.columns == ["score", "is_anomaly"] and predictions.height == len(labels)
    assert predictions["score"].is_finite().all() and set(predictions["is_anomaly"].unique()) <= {0, 1}
    scores = predictions["score"].to_numpy()
    # The anomalous stretches stand out where they are, not shifted: rows are where the input had them.
    assert roc_auc_score(labels, scores) > 0.9
    assert roc_auc_score(np.roll(labels, 100), scores) < 0.6  # shifted by 100 rows, the match is gone
    assert scores[455:465].mean() > 3 * np.median(scores[:150])
    flagged = predictions["is_anomaly"].to_numpy()
    # Far from the anomalies (more than a window away) normal rows are rarely flagged.
    assert flagged[labels == 1].mean() > 0.3 and flagged[:100].mean() < 0.1
    assert "time column: timestamp" in printed and "roc_auc" in printed and "f1" in printed
    assert "'valve'" in printed  # constant in training: reported, not modelled


def test_tiny_files_and_no_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(5)
    _write(tmp_path / "a.csv", ["x", "y"], [[round(v, 3), round(2 * v, 3)] for v in rng.normal(size=40)])
    _write(
        tmp_path / "b.csv",
        ["x", "y", "note"],
        [[round(v, 3), round(2 * v, 3), "n"] for v in rng.normal(size=7)],
    )
    out = tmp_path / "p.csv"
    assert (
        main(
            [
                "evaluate",
                "--train",
                str(tmp_path / "a.csv"),
                "--test",
                str(tmp_path / "b.csv"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert pl.read_csv(out).height == 7
    assert "metrics" not in capsys.readouterr().out


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path / "a.csv", ["x", "y"], [[i, i * 2 % 7] for i in range(50)])
    _write(tmp_path / "b.csv", ["x"], [[1]])
    code = main(
        [
            "evaluate",
            "--train",
            str(tmp_path / "a.csv"),
            "--test",
            str(tmp_path / "b.csv"),
            "--out",
            str(tmp_path / "p.csv"),
        ]
    )
    assert code == 2 and "lacks the signal columns ['y']" in capsys.readouterr().err
    assert (
        main(
            [
                "evaluate",
                "--train",
                str(tmp_path / "none.csv"),
                "--test",
                str(tmp_path / "b.csv"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
        == 2
    )


def _evaluate_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    code = main(["evaluate", *args, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary: dict[str, Any] = json.loads(captured.out)
    return summary


def _evaluate_folder(capsys: pytest.CaptureFixture[str], folder: Path, out: Path) -> dict[str, Any]:
    """`_evaluate_json` on the folder's train.csv and test.csv."""
    train, test = str(folder / "train.csv"), str(folder / "test.csv")
    return _evaluate_json(capsys, "--train", train, "--test", test, "--out", str(out))


def test_the_training_files_label_column_is_found_by_name_like_the_test_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train = _series(900, 3)
    bad = np.zeros(900, dtype=int)
    bad[400:430] = 1
    train[400:430, 2] += 3.0  # a labelled fault inside the "normal" file
    _write(
        tmp_path / "train.csv",
        ["flow", "pressure", "temp", "anomaly"],
        [[*np.round(r, 4), y] for r, y in zip(train, bad, strict=True)],
    )
    test = _series(200, 4)
    _write(
        tmp_path / "test.csv",
        ["flow", "pressure", "temp", "state"],
        [[*np.round(r, 4), "normal"] for r in test],
    )
    out = tmp_path / "p.csv"
    summary = _evaluate_json(
        capsys,
        *("--train", str(tmp_path / "train.csv"), "--test", str(tmp_path / "test.csv")),
        *("--out", str(out), "--label-column", "state"),
    )
    # `--label-column state` names the test file's labels; the training file's `anomaly` is found by
    # its name, as it would be in the test file: a label, not a signal, and its faulty rows do not train.
    assert summary["signals"] == ["flow", "pressure", "temp"]
    assert summary["ignored_columns"] == {"anomaly": "label"}
    assert "training file: 30 rows labelled anomalous in column 'anomaly'" in " ".join(summary["notes"])
    assert summary["model"]["train_rows"] + summary["model"]["validation_rows"] == 900 - 30
    assert pl.read_csv(out).height == 200


def test_a_headerless_file_with_a_text_time_column_keeps_every_row_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def rows(values: np.ndarray, day: int) -> list[list[object]]:
        return [
            [f"2024-01-{day:02d} {i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}", *np.round(r, 4)]
            for i, r in enumerate(values)
        ]

    train, test = _series(1200, 5), _series(400, 6)
    test[250:280, 2] += 2.0
    for name, table in (("train.csv", rows(train, 1)), ("test.csv", rows(test, 2))):
        with (tmp_path / name).open("w", newline="") as handle:
            csv.writer(handle).writerows(table)  # no header line: the first line is data
    out = tmp_path / "p.csv"
    summary = _evaluate_folder(capsys, tmp_path, out)
    assert summary["time_column"] == "column_0" and summary["signals"] == ["column_1", "column_2", "column_3"]
    assert summary["test_rows"] == 400
    scores = pl.read_csv(out)["score"].to_numpy()
    assert len(scores) == 400 and np.isfinite(scores).all()
    # The first line is a row, not a header: the shifted stretch is scored where the file has it.
    assert int(np.argmax(scores)) in range(250, 280)
    assert scores[255:275].mean() > 3 * np.median(scores[:200])


def test_a_test_file_without_the_training_signals_is_refused_before_any_training(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", ["x", "y"], [[i, i * 2 % 7] for i in range(400)])
    _write(tmp_path / "b.csv", ["x"], [[1], [2]])
    epochs: list[object] = []
    with pytest.raises(ValueError, match=r"lacks the signal columns \['y'\]"):
        evaluate_files(tmp_path / "a.csv", tmp_path / "b.csv", None, on_epoch=epochs.append)
    assert epochs == []  # refused in seconds, not after minutes of training


def _clock_files(
    tmp_path: Path, test_b: list[object] | None = None, counter: bool = False
) -> tuple[Path, Path]:
    """`elapsed_s` (no time name, steps of 0.5 s) runs on from the training file into the test file; so
    does `weld_count` (`counter`: 20 rows a weld, repeats, weld 50 spans both files)."""
    for name, n, seed, first in (("train.csv", 1000, 1, 0), ("test.csv", 300, 2, 1000)):
        values = _series(n, seed)
        b = test_b if name == "test.csv" and test_b is not None else np.round(values[:, 1], 4).tolist()
        _write(
            tmp_path / name,
            ["elapsed_s", *(["weld_count"] if counter else []), "a", "b"],
            [
                [0.5 * (first + i), *([(first + i + 10) // 20] if counter else []), round(r[0], 4), v]
                for i, (r, v) in enumerate(zip(values, b, strict=True))
            ],
        )
    return tmp_path / "train.csv", tmp_path / "test.csv"


def test_a_numeric_clock_with_an_unknown_name_orders_the_rows_and_is_no_signal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = _clock_files(tmp_path)
    out = tmp_path / "p.csv"
    code = main(["evaluate", "--train", str(train), "--test", str(test), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert (
        "time column: elapsed_s (numeric and strictly increasing through the training and the test" in printed
    )
    assert "signals (2): a, b" in printed
    flagged = pl.read_csv(out)["is_anomaly"].to_numpy()
    # As a signal its test values lay beyond anything trained on: every normal row was flagged.
    assert len(flagged) == 300 and flagged.mean() < 0.3


def test_a_signal_without_any_value_in_the_test_file_is_left_out_and_said(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = _clock_files(tmp_path, test_b=[""] * 300)
    out = tmp_path / "p.csv"
    summary = _evaluate_json(capsys, "--train", str(train), "--test", str(test), "--out", str(out))
    assert (
        summary["signals"] == ["a"] and "no value at all in the test file" in summary["ignored_columns"]["b"]
    )
    assert "the signal columns ['b'] have no value at all" in " ".join(summary["notes"])
    scores = pl.read_csv(out)["score"].to_numpy()
    assert len(scores) == 300 and np.isfinite(scores).all()


def test_a_test_file_without_any_signal_value_or_with_text_is_refused_before_training(tmp_path: Path) -> None:
    train, test = _clock_files(tmp_path)
    test.write_text("elapsed_s,a,b\n" + "".join(f"{600 + 0.5 * i},,\n" for i in range(20)))
    epochs: list[object] = []
    with pytest.raises(ValueError, match=r"no value at all in any signal column \(\['a', 'b'\]\)"):
        evaluate_files(train, test, None, on_epoch=epochs.append)
    test.write_text("elapsed_s,a,b\n" + "".join(f"{600 + 0.5 * i},ERR,1\n" for i in range(20)))
    with pytest.raises(ValueError, match=r"\['a'\] are numeric in the training file but hold text.*ERR"):
        evaluate_files(train, test, None, on_epoch=epochs.append)
    assert epochs == []


def test_a_counter_with_repeats_running_on_into_the_test_file_is_no_signal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = _clock_files(tmp_path, counter=True)
    out = tmp_path / "p.csv"
    code = main(["evaluate", "--train", str(train), "--test", str(test), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert (
        "time column: elapsed_s (numeric and strictly increasing through the training and the test file, "
        "every test value at or above the training maximum 499.5: a clock or counter that orders the rows"
    ) in printed
    assert (
        "ignored column 'weld_count': numeric and non-decreasing through the training and the test file, "
        "every test value at or above the training maximum 50: a clock or counter, not a signal (its test "
        "values lie beyond the training range: every row would look anomalous)"
    ) in printed
    assert "signals (2): a, b" in printed
    flagged = pl.read_csv(out)["is_anomaly"].to_numpy()
    assert len(flagged) == 300 and flagged.mean() < 0.3  # as a signal, weld_count flagged every row


def test_a_heat_up_ramp_rising_in_both_files_stays_a_signal_and_its_overheat_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(8)

    def ramp(last: float, n: int) -> np.ndarray:  # 20 C upwards, noisy, yet rising at every step
        steps = rng.uniform(0.05, 0.30, n - 1)
        return 20 + np.concatenate([[0.0], np.cumsum(steps)]) * (last - 20) / steps.sum()

    for name, values, heat in (
        ("train.csv", _series(1000, 1), ramp(198, 1000)),
        ("test.csv", _series(1340, 2), ramp(258, 1340)),
    ):
        _write(
            tmp_path / name,
            ["a", "b", "furnace_c"],
            [[*np.round(r[:2], 4), round(t, 3)] for r, t in zip(values, heat, strict=True)],
        )
    test_heat = pl.read_csv(tmp_path / "test.csv")["furnace_c"].to_numpy()
    assert np.all(np.diff(test_heat) > 0)  # the old rule took it for a clock and dropped it
    out = tmp_path / "p.csv"
    summary = _evaluate_folder(capsys, tmp_path, out)
    assert summary["signals"] == ["a", "b", "furnace_c"] and summary["ignored_columns"] == {}
    assert summary["time_column"] is None and summary["notes"] == []
    predictions = pl.read_csv(out)
    scores, flagged = predictions["score"].to_numpy(), predictions["is_anomaly"].to_numpy()
    # The overheat (beyond 198 C, never trained on) is what the column is for; the heat-up is normal.
    assert flagged[test_heat > 220].mean() > 0.8 and flagged[test_heat < 180].mean() < 0.1
    assert scores[test_heat > 220].mean() > 5 * scores[test_heat < 180].mean()


def test_a_rising_training_column_missing_from_the_test_file_is_an_error_naming_it(tmp_path: Path) -> None:
    train, test = _clock_files(tmp_path, counter=True)
    pl.read_csv(test).drop("weld_count").write_csv(test)
    epochs: list[object] = []
    with pytest.raises(ValueError, match=r"lacks the signal columns \['weld_count'\]"):
        evaluate_files(train, test, None, on_epoch=epochs.append)
    pl.read_csv(test).drop("elapsed_s").write_csv(test)  # a clock too: no longer taken for the time
    with pytest.raises(ValueError, match=r"lacks the signal columns \['elapsed_s', 'weld_count'\]"):
        evaluate_files(train, test, None, on_epoch=epochs.append)
    assert epochs == []


def test_a_one_row_test_file_turns_no_column_into_a_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, test = _clock_files(tmp_path, counter=True)
    test.write_text("elapsed_s,weld_count,a,b\n600,60,0.1,0.2\n")
    out = tmp_path / "p.csv"
    summary = _evaluate_json(capsys, "--train", str(train), "--test", str(test), "--out", str(out))
    assert summary["time_column"] is None and summary["signals"] == ["elapsed_s", "weld_count", "a", "b"]
    notes = " ".join(summary["notes"])
    assert "column 'elapsed_s' rises through the training file" in notes and "'weld_count'" in notes
    assert "take one value only" in notes and pl.read_csv(out).height == 1
