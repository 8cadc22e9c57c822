"""`edge_rollout_job`: one run of `deployed_edge_model` for a line (deploy, promote or roll back, as its
configuration says); `edge_rollout_sensor` requests them, an operator may launch one by hand."""

import dagster as dg

__all__ = ["edge_rollout_job"]

edge_rollout_job = dg.define_asset_job(
    "edge_rollout_job",
    selection=dg.AssetSelection.assets("deployed_edge_model"),
    description="Per line: publish the champion to the line's agents, or promote or roll back its canary.",
)
