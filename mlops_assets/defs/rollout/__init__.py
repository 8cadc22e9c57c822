"""Rollout domain: the line's champion delivered to its edge agents (`deployed_edge_model`), first to
canary agents, then to the whole line or back (`edge_rollout_sensor`, `edge_rollout_job`)."""
