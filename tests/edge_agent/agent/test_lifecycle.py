"""The agent's lifecycle: ready once every part runs and the broker holds its subscriptions, a context
manager that starts and stops it, and a failed start that undoes itself."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from edge_agent.agent import EdgeAgent
from edge_agent.agent.parts import Part, Readiness
from edge_agent.agent.spool.directory import SpoolDirectory
from edge_agent.uns.local_broker import LocalBroker
from tests.edge_agent.agent.support import make_settings


def test_the_agent_is_ready_while_it_runs_and_the_broker_holds_its_subscriptions(
    broker: LocalBroker, tmp_path: Path
) -> None:
    agent = EdgeAgent(make_settings(tmp_path, broker.port))
    assert not agent.ready.is_set() and agent.exit_code is None  # built, not started
    with agent:
        assert agent.ready.wait(20)
        assert agent.session.subscribed.is_set() and agent.status() == "ONLINE"
    assert not agent.ready.is_set()
    assert agent.exit_code == 0 and agent.fatal is None
    again = SpoolDirectory(tmp_path / "spool")
    again.lock()  # the stop released the spool
    again.unlock()


def test_a_part_that_fails_to_start_stops_what_was_started_and_releases_the_spool(
    broker: LocalBroker, tmp_path: Path
) -> None:
    """A real failure: the metrics port is taken. The agent raises, having released its spool."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        agent = EdgeAgent(make_settings(tmp_path, broker.port, metrics={"port": port}))
        with pytest.raises(OSError, match="in use"), agent:
            pytest.fail("the agent started on a taken port")
    assert not agent.ready.is_set()
    assert agent.stop() == 0  # nothing was started: nothing to stop
    again = SpoolDirectory(tmp_path / "spool")
    again.lock()
    again.unlock()


class _Slot(Part):
    """A part that becomes ready after its start, as a model slot will once its model is loaded."""

    name = "a slot"

    def __init__(self, readiness: Readiness) -> None:
        self.readiness = readiness
        self.loaded = False

    @property
    def ready(self) -> bool:
        return self.loaded

    def load(self) -> None:
        self.loaded = True
        self.readiness.changed()

    def start(self) -> None:
        pass

    def drain(self, deadline: float) -> None:
        pass

    def stop(self) -> None:
        self.loaded = False


def test_readiness_waits_for_every_part_and_for_the_agent_to_run() -> None:
    readiness = Readiness()
    slot = _Slot(readiness)
    readiness.watch([slot])
    readiness.running(True)
    assert not readiness.wait(0)  # running, but the slot is not ready
    waiter: list[bool] = []
    thread = threading.Thread(target=lambda: waiter.append(readiness.wait(20)))
    thread.start()
    slot.load()  # from another thread, as a loader would
    thread.join(20)
    assert waiter == [True] and readiness.is_set()
    readiness.running(False)
    assert not readiness.is_set()
