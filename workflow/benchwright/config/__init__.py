"""Load a campaign with its benchmarks, SKUs and run rules, and check every run rule before any job runs.

``load_plan`` is called once, by ``workflow/rules/common.smk`` at DAG construction and by ``benchwright
validate``. It collects every problem it finds (schema violations in each file, then cross-file run-rule
checks) and raises one :class:`CampaignError` that lists them all, each with file, field and fix.

The parts: :mod:`.loading` reads and validates the YAML files (campaign, benchmarks, SKUs, run rules),
:mod:`.plan` is the validated campaign the DAG is built from, :mod:`.checks` holds it to the run rules.
"""

from ..paths import model_dir  # re-exported: the rules import it from here
from .checks import check_run_rules
from .loading import (
    RULES_PACKAGE,
    known_rule_versions,
    load_benchmark_file,
    load_plan,
    load_plan_file,
    load_rules,
    load_system_file,
    read_yaml,
)
from .plan import InferenceJob, Plan

__all__ = [
    "RULES_PACKAGE", "InferenceJob", "Plan", "check_run_rules", "known_rule_versions", "load_benchmark_file",
    "load_plan", "load_plan_file", "load_rules", "load_system_file", "model_dir", "read_yaml",
]
