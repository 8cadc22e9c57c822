"""The drift monitor: the newest scored windows (kept by the scoring worker, `rolling_windows`) as drift
profile rows, compared with the serving package's reference profile by Evidently in a worker process of
its own (`worker`, the only place that imports evidently), off the hot path (`monitor`); the summary
retained on the agent's drift channel, the full report (Parquet and HTML) to the landing zone
(`landing_files`)."""
