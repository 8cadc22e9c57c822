"""ingestion: landing files ▸ raw_uns_captures (bronze) ▸ validated_telemetry + quarantined_messages
(silver) ▸ payload_compliance (gold), the landing sensor and the data-quality checks."""
