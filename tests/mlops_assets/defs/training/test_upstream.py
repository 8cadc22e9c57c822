"""`upstream_metadata` on a real Dagster instance: this run's materialisation wins over a newer one of
another run, the latest is used when the upstream is not part of the run, and a missing one fails."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from mlops_assets.upstream import upstream_metadata

PARTS = dg.StaticPartitionsDefinition(["line-a"])


class Tag(dg.Config):
    tag: str = "mine"
    interleave: bool = False


@dg.asset(partitions_def=PARTS)
def producer(config: Tag) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"tag": config.tag})


@dg.asset(partitions_def=PARTS, deps=[producer])
def interloper(context: dg.AssetExecutionContext, config: Tag) -> None:
    """With `interleave`: another run materialises `producer` for the same partition, between this
    run's `producer` and `consumer` (two overlapping runs of one line's chain)."""
    if config.interleave:
        other = dg.materialize(
            [producer],
            instance=context.instance,
            partition_key=context.partition_key,
            run_config={"ops": {"producer": {"config": {"tag": "other run"}}}},
        )
        assert other.success


@dg.asset(partitions_def=PARTS, deps=[interloper])
def consumer(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    found = upstream_metadata(context, "producer", context.partition_key)
    return dg.MaterializeResult(metadata={"saw": found["tag"]})


@dg.asset_check(asset=consumer)
def consumer_check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    found = upstream_metadata(context, "producer", "line-a")
    return dg.AssetCheckResult(passed=True, metadata={"saw": found["tag"]})


@dg.asset(partitions_def=PARTS, output_required=False)
def skipped_producer() -> Iterator[dg.MaterializeResult]:
    """Planned in the run, materialises nothing (an optional output left out)."""
    yield from ()


@dg.asset(partitions_def=PARTS)
def reads_skipped(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    found = upstream_metadata(context, "skipped_producer", context.partition_key)
    return dg.MaterializeResult(metadata={"saw": found["tag"]})


ASSETS: list[Any] = [producer, interloper, consumer, consumer_check]


def _run(
    instance: dg.DagsterInstance, selection: str, ops: dict[str, Any] | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        ASSETS,
        instance=instance,
        partition_key="line-a",
        selection=selection,
        run_config={"ops": ops or {}},
        raise_on_error=False,
    )


def _saw(result: dg.ExecuteInProcessResult) -> str:
    materialised = result.asset_materializations_for_node("consumer")
    assert materialised, [e.message for e in result.all_events if e.is_failure]
    return str(materialised[-1].metadata["saw"].value)  # type: ignore[attr-defined]


def test_this_runs_materialisation_wins_over_a_newer_one_of_another_run() -> None:
    with dg.instance_for_test() as instance:
        result = _run(
            instance,
            "producer*",
            {"producer": {"config": {"tag": "mine"}}, "interloper": {"config": {"interleave": True}}},
        )
        assert result.success
        latest = instance.fetch_materializations(dg.AssetKey("producer"), limit=1).records[0]
        assert latest.run_id != result.run_id  # the other run's is the newest one
        assert _saw(result) == "mine"
        check = result.get_asset_check_evaluations()[0]
        assert check.metadata["saw"].value == "mine"  # type: ignore[attr-defined]


def test_an_upstream_outside_the_run_is_read_at_its_latest_materialisation() -> None:
    with dg.instance_for_test() as instance:
        with pytest.raises(dg.Failure, match="has not been materialised for partition 'line-a'"):
            # Nothing yet: a clear failure, not a guess.
            dg.materialize(ASSETS, instance=instance, partition_key="line-a", selection="consumer")
        assert _run(instance, "producer", {"producer": {"config": {"tag": "first"}}}).success
        assert _run(instance, "producer", {"producer": {"config": {"tag": "second"}}}).success
        assert _saw(_run(instance, "consumer")) == "second"


def test_an_upstream_planned_in_the_run_but_not_materialised_is_not_replaced_by_an_older_one() -> None:
    with dg.instance_for_test() as instance:
        # An earlier materialisation exists: reading it instead would mix runs silently.
        instance.report_runless_asset_event(
            dg.AssetMaterialization("skipped_producer", partition="line-a", metadata={"tag": "old"})
        )
        result = dg.materialize(
            [skipped_producer, reads_skipped],
            instance=instance,
            partition_key="line-a",
            raise_on_error=False,
        )
        assert not result.success and not result.asset_materializations_for_node("reads_skipped")
        failures = [str(e.event_specific_data.error.message) for e in result.all_events if e.is_step_failure]  # type: ignore[union-attr]
        assert any("part of this run but was not materialised by it" in f for f in failures), failures
