"""The simulated start time of every edge test (2025-11-21 16:00 UTC): seeded lines give the same batches."""

START_MS = 1_763_740_800_000
