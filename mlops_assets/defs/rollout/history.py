"""A line's last publication, read back from the instance: the latest materialisation of
`deployed_edge_model` for the line (every deployment, promotion and rollback is one)."""

import dagster as dg

from mlops_assets.ml.rollout.records import RolloutRecord

__all__ = ["DEPLOYED_EDGE_MODEL", "latest_rollout"]

DEPLOYED_EDGE_MODEL = dg.AssetKey("deployed_edge_model")


def latest_rollout(instance: dg.DagsterInstance, line: str) -> RolloutRecord | None:
    """None when nothing was ever published for `line`; ValueError when the latest materialisation is
    not a rollout record (reported by hand with other metadata)."""
    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=DEPLOYED_EDGE_MODEL, asset_partitions=[line]), limit=1
    )
    if not found.records:
        return None
    materialization = found.records[0].asset_materialization
    assert materialization is not None
    meta = {name: getattr(value, "value", value) for name, value in materialization.metadata.items()}
    try:
        return RolloutRecord.from_metadata(line, meta)
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"the latest deployed_edge_model [{line}] is not a rollout record: {exc!r}") from exc
