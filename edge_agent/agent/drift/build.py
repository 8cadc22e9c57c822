"""The drift monitor's share of the wiring: built when drift is on and a model can score, and the part
that starts it before scoring (its consumer first) and drains it after scoring, before the uploader's
final pass (which takes its last report)."""

from __future__ import annotations

from functools import partial

from edge_agent.agent.drift.landing_files import DriftFiles
from edge_agent.agent.drift.monitor import DriftMonitor
from edge_agent.agent.drift.report import DRIFT_ADDED_FIELDS
from edge_agent.agent.drift.state_file import DriftStateFile
from edge_agent.agent.heartbeat import contract_declares
from edge_agent.agent.mqtt.session import MqttSession
from edge_agent.agent.parts import Part
from edge_agent.agent.settings import EdgeSettings
from edge_agent.agent.spool.directory import SpoolDirectory
from edge_agent.agent.spool.sealed_backlog import SealedBacklog
from edge_agent.agent.stats import Stats
from edge_agent.agent.supervision import Supervisor
from edge_agent.agent.upload.uploader import Uploader
from edge_agent.contract import Contract, ContractValidator

__all__ = ["DriftPart", "build_drift"]


def build_drift(
    settings: EdgeSettings,
    *,
    contract: Contract,
    folder: SpoolDirectory,
    backlog: SealedBacklog,
    uploader: Uploader,
    session: MqttSession,
    stats: Stats,
    supervisor: Supervisor,
) -> DriftMonitor | None:
    """None when drift is off, or scoring is (no `model.public_key`: no model, no profile)."""
    if not (settings.scoring_enabled and settings.drift.enabled):
        return None
    drift, spool = settings.drift, settings.spool
    declared = frozenset(
        f for f in DRIFT_ADDED_FIELDS if contract_declares(contract, settings.drift_topic, f)
    )
    return DriftMonitor(
        settings,
        files=DriftFiles(
            backlog,
            site=settings.site,
            line=settings.line,
            contract_version=contract.version,
            max_bytes=drift.backlog_max_bytes,
            stats=stats,
            fsync=spool.fsync,
        ),
        state_file=DriftStateFile(folder.root / "drift", fsync=spool.fsync),
        publish=partial(session.publish, settings.drift_topic, qos=1, retain=True),
        validator=ContractValidator(contract),
        declared=declared,
        stats=stats,
        on_written=uploader.notify,
        on_fatal=supervisor.on_fatal,
    )


class DriftPart(Part):
    """Started before scoring, which hands it jobs; drained after scoring (the report in hand finishes
    and its summary is published, within the drain budget) and before the uploader's final pass."""

    name = "the drift monitor"

    def __init__(self, monitor: DriftMonitor) -> None:
        self.monitor = monitor

    def start(self) -> None:
        self.monitor.start()

    def drain(self, deadline: float) -> None:
        self.monitor.drain(deadline)

    def stop(self) -> None:
        self.monitor.stop()
