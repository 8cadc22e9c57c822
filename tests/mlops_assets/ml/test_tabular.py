"""Reading other people's CSV exports: separators, headers, time, index and label columns, labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from mlops_assets.ml.byod import row_segments
from mlops_assets.ml.replay_source import _unique_names, signal_name
from mlops_assets.ml.tabular import detect_columns, find_label_column, label_values, read_table


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


def test_an_empty_column_is_an_empty_numeric_one(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("a,b,c\n1,,x\n5,n/a,y\n2,,z\n")
    frame = read_table(path)
    assert frame["b"].dtype == pl.Float64 and frame["b"].null_count() == 3
    assert detect_columns(frame, None, None).ignored == {"b": "empty", "c": "not numeric"}
