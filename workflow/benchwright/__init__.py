"""benchwright: a declarative benchmark workflow orchestrator for ML systems (MLPerf-style)."""

__version__ = "0.1.0"
