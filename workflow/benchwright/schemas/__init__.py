"""Pydantic models of everything a user writes: the campaign, benchmarks, SKUs, and the run rules."""

from .base import Division, Precision, RunMode, Scenario, Spec, SystemType
from .benchmark import Benchmark
from .campaign import Campaign
from .rules import RunRules
from .system import System

#: The models exported as JSON schemas into workflow/schemas/, by file stem.
EXPORTED = {"campaign": Campaign, "benchmark": Benchmark, "system": System, "runrules": RunRules}

__all__ = [
    "EXPORTED", "Benchmark", "Campaign", "Division", "Precision", "RunMode", "RunRules", "Scenario", "Spec",
    "System", "SystemType",
]
