"""Bring your own data: `mlops evaluate` (train on a normal CSV, score another row by row) and
`mlops replay` (a historian export as welds for the simulator's publisher)."""
