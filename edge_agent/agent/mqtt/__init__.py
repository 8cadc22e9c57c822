"""The agent's side of the broker: its persistent MQTT session, the capture pause, its subscriptions."""
