"""Prometheus metrics, read from the agent's counters at scrape time.

A custom collector on a registry of the agent's own (no global registry, no work at import): the hot
path only updates `Stats`; converting to metric families happens when Prometheus scrapes.
`metrics.port: 0` turns the endpoint off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from edge_agent.agent.stats import COUNTER_FIELDS, LATENCY_BUCKETS_S, Stats

__all__ = ["AgentCollector", "MetricsServer"]

log = logging.getLogger(__name__)


def _by_label(
    family: type[CounterMetricFamily] | type[GaugeMetricFamily],
    name: str,
    documentation: str,
    label: str,
    values: Mapping[str, float],
) -> Metric:
    """One metric family with a sample per (label value, number) of `values`."""
    metric = family(name, documentation, labels=[label])
    for key, value in values.items():
        metric.add_metric([key], value)
    return metric


class AgentCollector(Collector):
    def __init__(self, stats: Stats, gauges: Callable[[], dict[str, Any]]) -> None:
        self.stats = stats
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "edge_messages", "Messages by topic (or _unknown) and stage.", labels=["topic", "stage"]
        )
        for topic, counts in self.stats.topic_counters().items():
            for stage in COUNTER_FIELDS:
                messages.add_metric([topic, stage], counts[stage])
        yield messages
        snapshot = self.stats.snapshot()
        yield _by_label(
            CounterMetricFamily, "edge_quarantined_by_reason", "Invalid messages by error kind.", "reason",
            snapshot["quarantine_reasons"],
        )  # fmt: skip
        yield _by_label(
            CounterMetricFamily, "edge_dropped", "Messages refused by a counted policy.", "reason",
            snapshot["dropped"],
        )  # fmt: skip
        yield _by_label(
            CounterMetricFamily, "edge_events", "Operational events (reconnects, failures, ...).", "event",
            snapshot["events"],
        )  # fmt: skip
        per_bucket, total = self.stats.latency()
        cumulative, buckets = 0, []
        for bound, n in zip((*LATENCY_BUCKETS_S, float("inf")), per_bucket, strict=True):
            cumulative += n
            buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        yield HistogramMetricFamily(
            "edge_receive_to_durable_seconds",
            "From receipt to fsync of the group that holds the message.",
            buckets=buckets,
            sum_value=total,
        )
        state = self.gauges()
        yield _by_label(
            GaugeMetricFamily,
            "edge_queue_depth",
            "Messages waiting per queue.",
            "queue",
            state["queue_depths"],
        )
        yield _by_label(
            CounterMetricFamily, "edge_queue_full_waits", "Times a producer waited for room (back-pressure).",
            "queue", state["queue_full_waits"],
        )  # fmt: skip
        yield _by_label(
            GaugeMetricFamily, "edge_spool_bytes", "Bytes in the spool (segments and sealed files).", "kind",
            state["spool_bytes"],
        )  # fmt: skip
        yield GaugeMetricFamily(
            "edge_upload_backlog_files", "Sealed files not yet uploaded.", value=state["backlog"]
        )
        yield GaugeMetricFamily(
            "edge_mqtt_connected", "1 while connected to the broker.", value=state["connected"]
        )
        yield GaugeMetricFamily(
            "edge_landing_available", "1 while the last upload worked.", value=state["landing_ok"]
        )
        scoring = state.get("scoring")
        if scoring is not None:
            yield from _scoring_metrics(scoring, state["model"])
        drift = state.get("drift")
        if drift is not None:
            yield from _drift_metrics(drift)


def _scoring_metrics(scoring: Mapping[str, Any], model: Mapping[str, Any]) -> Iterator[Metric]:
    """The heartbeat's `scoring` and `model` as Prometheus families."""
    by_version = scoring["by_version"]
    for name, doc in (
        ("batches", "Telemetry batches scored, per model version (the shadow too)."),
        ("windows", "Windows scored, per model version."),
        ("alerts", "Windows over the model's threshold, per model version."),
    ):
        yield _by_label(
            CounterMetricFamily,
            f"edge_scored_{name}",
            doc,
            "version",
            {v: c[name] for v, c in by_version.items()},
        )
    yield _by_label(
        CounterMetricFamily, "edge_unscored_batches", "Captured batches not scored, by reason.", "reason",
        scoring["unscored"],
    )  # fmt: skip
    yield CounterMetricFamily(
        "edge_score_results_published", "Results the broker acknowledged.", value=scoring["results_published"]
    )
    yield GaugeMetricFamily(
        "edge_score_outbox", "Results waiting for the broker.", value=scoring["outbox_backlog"]
    )
    latency = scoring.get("latency_us")
    if latency is not None:
        quantiles = GaugeMetricFamily(
            "edge_score_latency_us", "Scoring time per batch in the worker.", labels=["quantile"]
        )
        quantiles.add_metric(["0.5"], latency["p50"])
        quantiles.add_metric(["0.99"], latency["p99"])
        yield quantiles
    info = GaugeMetricFamily(
        "edge_model_info", "1 for the model serving; its version, readiness and desired version.",
        labels=["version", "desired_version", "stage"],
    )  # fmt: skip
    info.add_metric(
        [model["version"], model["desired_version"], str(model["stage"])], 1.0 if model["ready"] else 0.0
    )
    yield info


def _drift_metrics(drift: Mapping[str, Any]) -> Iterator[Metric]:
    """The drift monitor's reports, its last result and its worker."""
    yield CounterMetricFamily("edge_drift_reports", "Drift reports made.", value=drift["reports"])
    yield CounterMetricFamily(
        "edge_drift_report_failures", "Drift reports that could not be made.", value=drift["failures"]
    )
    yield CounterMetricFamily(
        "edge_drift_report_seconds", "Time spent making drift reports.", value=drift["report_seconds"]
    )
    yield CounterMetricFamily(
        "edge_drift_summaries_published", "Drift summaries the broker confirmed.", value=drift["published"]
    )
    yield GaugeMetricFamily(
        "edge_drift_worker_running",
        "1 while the drift worker process runs.",
        value=int(drift["worker_running"]),
    )
    if drift["last_report_id"] is not None:
        yield GaugeMetricFamily(
            "edge_drift_share",
            "Share of drifted columns in the last report.",
            value=drift["last_drift_share"],
        )
        info = GaugeMetricFamily(
            "edge_drift_last_report_info", "The last drift report; 1 when it found the data drifted.",
            labels=["report_id", "model_version"],
        )  # fmt: skip
        info.add_metric(
            [drift["last_report_id"], drift["last_model_version"]],
            1.0 if drift["last_dataset_drift"] else 0.0,
        )
        yield info


class MetricsServer:
    def __init__(self, host: str, port: int, collector: AgentCollector) -> None:
        self.host = host
        self.port = port
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server: Any = None
        self._thread: Any = None

    def start(self) -> None:
        if self.port == 0:
            return
        self._server, self._thread = start_http_server(self.port, addr=self.host, registry=self.registry)
        log.info("Prometheus metrics on http://%s:%d/metrics", self.host, self.port)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
