"""Reading other people's CSV exports: separators, headers, time, index and label columns, labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from mlops_assets.ml.byod.csv_table import read_table
from mlops_assets.ml.byod.detector import row_segments
from mlops_assets.ml.byod.replay_source import _unique_names, signal_name
from mlops_assets.ml.byod.table_columns import detect_columns, find_label_column, label_values


def test_semicolon_decimal_commas_index_time_and_labels(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        ";datetime;Temp 1;Pressure;Status;anomaly\n"
        "0;2020-03-09 10:00:00;1,5;10;ok;0\n"
        "1;2020-03-09 10:00:01;1,7;n/a;ok;0\n"
        "2;2020-03-09 10:00:02;1,6;12;ok;1\n"
    )
    frame = read_table(path)
    columns = detect_columns(frame, None, find_label_column(frame, None))
    assert columns.time == "datetime" and columns.label == "anomaly"
    assert columns.signals == ["Temp 1", "Pressure"]
    assert columns.ignored == {frame.columns[0]: "row index", "Status": "not numeric", "anomaly": "label"}
    assert frame["Temp 1"].to_list() == [1.5, 1.7, 1.6] and frame["Pressure"][1] is None


def test_headerless_pipe_file_gets_column_names(tmp_path: Path) -> None:
    path = tmp_path / "weld.txt"
    path.write_text("0|96.1|915\n0.1|96.2|1193\n0.2|96.0|848\n")
    frame = read_table(path)
    assert frame.columns == ["column_0", "column_1", "column_2"] and frame.height == 3


def test_labels_as_numbers_booleans_and_words() -> None:
    assert label_values(pl.Series([0, 1, None, 2]))[0].tolist() == [0, 1, 0, 1]
    assert label_values(pl.Series([True, False, None]))[0].tolist() == [1, 0, 0]
    words, how = label_values(pl.Series(["NORMAL", "BROKEN", "RECOVERING", "NORMAL"]))
    assert words.tolist() == [0, 1, 1, 0] and "normal" in how
    unknown, _ = label_values(pl.Series(["x", "x", "x", "y"]))  # no known word: the majority is normal
    assert unknown.tolist() == [0, 0, 0, 1]


def test_segments_break_where_time_goes_back_or_jumps() -> None:
    times = np.array([0.0, 0.1, 0.2, 0.0, 0.1, 0.2, 50.0, 50.1])
    assert row_segments(len(times), times) == [(0, 3), (3, 6), (6, 8)]
    assert row_segments(5, None) == [(0, 5)]


def test_signal_names_are_contract_names_and_stay_unique() -> None:
    assert signal_name("Motor Current [A]") == "motor_current_a"
    assert signal_name("2nd temp") == "s_2nd_temp"
    mapping = _unique_names(["Temp (C)", "temp-c", "x" * 80])
    assert mapping["Temp (C)"] == "temp_c" and mapping["temp-c"] == "temp_c_2"
    assert len(mapping["x" * 80]) == 48


def _csv(path: Path, header: str, rows: list[tuple[float, ...]]) -> pl.DataFrame:
    path.write_text(header + "\n" + "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows))
    return read_table(path)


def test_a_numeric_clock_through_both_files_orders_rows_and_is_no_signal(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    # elapsed_s counts up by 0.5 through training and on into the test file; countdown counts down;
    # ramp rises through the training file but not the test file (a real signal); noise is noise.
    train = _csv(
        tmp_path / "train.csv",
        "elapsed_s,countdown,ramp,noise",
        [(0.5 * i, 900 - 3 * i, 20 + 0.01 * i, rng.normal()) for i in range(200)],
    )
    test = _csv(
        tmp_path / "test.csv",
        "elapsed_s,countdown,ramp,noise",
        [(100 + 0.5 * i, 300 - 3 * i, 22 - 0.01 * (i % 5), rng.normal()) for i in range(50)],
    )
    columns = detect_columns(train, None, None, test=test)
    assert columns.time == "elapsed_s" and "strictly increasing" in columns.time_reason
    assert columns.signals == ["ramp", "noise"]
    assert "strictly decreasing" in columns.ignored["countdown"]
    # --time-column still decides: the clock is then left out, saying why.
    forced = detect_columns(train, "countdown", None, test=test)
    assert forced.time == "countdown" and forced.time_reason == "given (--time-column)"
    assert forced.signals == ["ramp", "noise"] and "a clock or counter" in forced.ignored["elapsed_s"]
    # A named time column stays the time column; the clock is still no signal.
    named = detect_columns(train.rename({"noise": "timestamp"}), None, None, test=test)
    assert named.time == "timestamp" and named.time_reason == "named like a time"
    assert named.signals == ["ramp"] and "elapsed_s" in named.ignored
    # Without a test file (`mlops replay`), or over fewer than MIN_CLOCK_ROWS values, nothing changes.
    assert detect_columns(train, None, None).signals == ["elapsed_s", "countdown", "ramp", "noise"]
    assert detect_columns(train.head(10), None, None, test=test).time is None


def _rising(rng: np.random.Generator, first: float, last: float, n: int) -> np.ndarray:
    """A noisy ramp from `first` to `last` that still rises at every step (a furnace heating up)."""
    steps = rng.uniform(0.2, 1.8, n - 1)
    return np.concatenate([[0.0], np.cumsum(steps)]) * (last - first) / steps.sum() + first


def test_a_counter_with_repeats_is_no_signal_and_a_ramp_starting_again_in_the_test_file_is_one(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(1)
    # weld_count repeats within a weld and runs on into the test file (weld 49 spans both files);
    # furnace_c heats up 20 -> 198 C in training, 20 -> 258 C (overheat) in the test file: it rises at
    # every step in both, but the test file starts inside the training range, so it is a signal.
    train = _csv(
        tmp_path / "train.csv",
        "weld_count,furnace_c,noise",
        [(i // 20, t, rng.normal()) for i, t in enumerate(_rising(rng, 20, 198, 1000))],
    )
    test = _csv(
        tmp_path / "test.csv",
        "weld_count,furnace_c,noise",
        [(49 + (i + 10) // 20, t, rng.normal()) for i, t in enumerate(_rising(rng, 20, 258, 300))],
    )
    for frame in (train, test):  # rising at every step: the old rule took it for a clock
        assert np.all(np.diff(frame["furnace_c"].to_numpy()) > 0)
    columns = detect_columns(train, None, None, test=test)
    assert columns.signals == ["furnace_c", "noise"] and columns.notes == []
    # Repeats: a counter, not a clock; it never orders the rows.
    assert columns.time is None
    assert columns.ignored["weld_count"] == (
        "numeric and non-decreasing through the training and the test file, every test value at or above "
        "the training maximum 49: a clock or counter, not a signal (its test values lie beyond the training "
        "range: every row would look anomalous)"
    )
    # Counting down, mirrored: a tank draining through both files.
    mirrored = detect_columns(
        train.with_columns(-pl.col("weld_count")), None, None, test=test.with_columns(-pl.col("weld_count"))
    )
    assert (
        "non-increasing" in mirrored.ignored["weld_count"] and "minimum -49" in mirrored.ignored["weld_count"]
    )
    # Restarting in the test file (a counter reset), or falling back there: a signal again.
    for later in (test["weld_count"] - 49, test["weld_count"].reverse()):
        assert "weld_count" in detect_columns(train, None, None, test=test.with_columns(later)).signals
    # Missing from the test file, or text there: a signal (scoring then says what is wrong).
    assert "weld_count" in detect_columns(train, None, None, test=test.drop("weld_count")).signals
    as_text = test.with_columns(pl.col("weld_count").cast(pl.String))
    assert "weld_count" in detect_columns(train, None, None, test=as_text).signals


def test_test_values_beyond_the_range_that_do_not_move_keep_a_column_a_signal_with_a_note(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(2)
    train = _csv(
        tmp_path / "train.csv",
        "elapsed_s,weld_count,furnace_c",
        [(0.5 * i, i // 20, t) for i, t in enumerate(_rising(rng, 20, 198, 400))],
    )
    # One row beyond the training range: a clock running on, or a furnace overheating? One value
    # cannot tell, so nothing is dropped on its strength; the note says why the row may be flagged.
    one_row = _csv(tmp_path / "one.csv", "elapsed_s,weld_count,furnace_c", [(200.0, 20, 250.0)])
    columns = detect_columns(train, None, None, test=one_row)
    assert columns.time is None and columns.signals == ["elapsed_s", "weld_count", "furnace_c"]
    assert len(columns.notes) == 3 and "'furnace_c' rises through the training file" in columns.notes[2]
    # Within the training range, a single row raises no doubt at all.
    inside = _csv(tmp_path / "inside.csv", "elapsed_s,weld_count,furnace_c", [(10.0, 3, 40.0)])
    assert detect_columns(train, None, None, test=inside).notes == []
    # Constant through a longer test file (one weld, a furnace stuck hot): the same, still signals.
    stuck = _csv(
        tmp_path / "stuck.csv",
        "elapsed_s,weld_count,furnace_c",
        [(200 + 0.5 * i, 20, 250.0) for i in range(50)],
    )
    columns = detect_columns(train, None, None, test=stuck)
    assert columns.time == "elapsed_s" and columns.signals == ["weld_count", "furnace_c"]
    assert [note.split("'")[1] for note in columns.notes] == ["weld_count", "furnace_c"]


def test_an_empty_column_is_an_empty_numeric_one(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("a,b,c\n1,,x\n5,n/a,y\n2,,z\n")
    frame = read_table(path)
    assert frame["b"].dtype == pl.Float64 and frame["b"].null_count() == 3
    assert detect_columns(frame, None, None).ignored == {"b": "empty", "c": "not numeric"}
