"""monitoring: the edge seen from the platform: drift reports (`edge_drift_reports`), the fleet's state
(`edge_fleet_status`), `drift_sensor` (drift asks for a retraining) and `edge_fleet_sensor` (dead agents
fail `agents_are_alive`)."""
