"""Metrics and structured logs: shared by the API, the jobs and the workers; knows nothing of HTTP or the DB."""
