"""A stage thread that fails stops the agent (exit code 1, the supervisor restarts it); it never dies unseen."""

from __future__ import annotations

import threading

from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import start_stage


def test_an_exception_out_of_a_stage_is_recorded_and_handed_to_the_fatal_handler() -> None:
    stats = Stats()
    fatal: list[BaseException] = []
    handled = threading.Event()

    def on_fatal(exc: BaseException) -> None:
        fatal.append(exc)
        handled.set()

    def body() -> None:
        raise ZeroDivisionError("a bug in a stage")

    thread = start_stage("uploader", body, stats=stats, on_fatal=on_fatal)
    assert handled.wait(10)
    thread.join(10)
    assert not thread.is_alive() and thread.name == "uploader"
    assert len(fatal) == 1 and isinstance(fatal[0], ZeroDivisionError)
    assert stats.last_error is not None and stats.last_error.startswith("uploader stopped")
    assert "a bug in a stage" in stats.last_error


def test_a_stage_that_returns_is_not_fatal() -> None:
    stats = Stats()
    fatal: list[BaseException] = []
    done = threading.Event()
    thread = start_stage("seal-stage", done.set, stats=stats, on_fatal=fatal.append)
    thread.join(10)
    assert done.is_set() and not thread.is_alive()
    assert fatal == [] and stats.last_error is None
