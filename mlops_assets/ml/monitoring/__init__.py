"""Monitoring the edge (plain logic, no Dagster): drift reports from the landing zone, the retained drift
summaries and the retraining policy they feed, the fleet's heartbeats, and the loop's settings."""
