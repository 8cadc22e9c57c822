"""The demo names why a run failed: its failed steps' errors and its failed checks' reasons, read from
a real instance's event log."""

from __future__ import annotations

import dagster as dg

from mlops_assets.demo.loop import why_failed


@dg.asset
def trained() -> int:
    return 1


@dg.asset_check(asset=trained, blocking=True)
def gate() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"reason": "false alarms 0.40 > 0.20"})


@dg.asset(deps=[trained])
def packaged() -> None:
    raise ValueError("the package does not verify\nsecond line")


def test_why_failed_names_the_failed_check_and_the_failed_step() -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize([trained, packaged], instance=instance, raise_on_error=False)
        assert not result.success
        reasons = why_failed(instance, result.run_id)
        assert reasons == ["step packaged failed: ValueError: the package does not verify"]
        checked = dg.materialize([trained], instance=instance, raise_on_error=False, selection=[trained])
        assert checked.success  # no check selected: nothing failed
        assert why_failed(instance, checked.run_id) == [
            f"run {checked.run_id} failed without a step failure or failed check on record"
        ]
        gated = dg.Definitions(assets=[trained], asset_checks=[gate]).resolve_implicit_global_asset_job_def()
        run = gated.execute_in_process(instance=instance, raise_on_error=False)
        assert why_failed(instance, run.run_id) == ["check gate failed: false alarms 0.40 > 0.20"]
