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
