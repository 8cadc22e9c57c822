"""Shared MQTT helpers for the UNS: broker endpoints and clients (`endpoint`), a local broker (`local_broker`)."""
