"""The training benchmark: seeded time-to-train runs with MLPerf logs, compliance checks and scoring."""
