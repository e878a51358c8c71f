# Validation, input functions and wildcard constraints. Rules hold no logic: everything they do is a
# `benchwright` command, and everything they need to know comes from the functions below.
import json
import sys

from snakemake.exceptions import WorkflowError

from benchwright.config import load_plan
from benchwright.errors import CampaignError


def campaign_files():
    """Config files in order of precedence: the configfile directive, then each --configfile."""
    overriding = [str(f) for f in workflow.overwrite_configfiles or ()]
    base = [str(f) for f in workflow.configfiles if str(f) not in overriding]
    return base + overriding


try:
    PLAN = load_plan(config, campaign_files())
except CampaignError as err:
    raise WorkflowError(str(err)) from None

BENCHMARKS = PLAN.benchmarks
SYSTEMS = PLAN.systems
DATASET_FILES = PLAN.dataset_files()
SYSTEMS_DIR = PLAN.campaign.paths.systems


wildcard_constraints:
    benchmark="|".join(map(str, BENCHMARKS)) or "(?!)",
    system="|".join(map(str, SYSTEMS)) or "(?!)",
    dataset="|".join(sorted({d for d, _ in DATASET_FILES})) or "(?!)",
    file="[A-Za-z0-9][A-Za-z0-9._-]*",


def all_targets():
    """Every final output of the campaign."""
    targets = [f"results/data/{name}" for name in BENCHMARKS]
    targets += [f"results/systems/{sku}/detected.json" for sku in PLAN.systems_in_use]
    return targets


# --- data -----------------------------------------------------------------------------------------------


def dataset_file(wildcards):
    """The DatasetFile spec a download job fetches."""
    return DATASET_FILES[(wildcards.dataset, wildcards.file)]


def fetch_args(wildcards):
    """Arguments of `benchwright fetch` for one dataset file (shell-quoted with :q where used)."""
    spec = dataset_file(wildcards)
    args = ["--url", spec.url, "--sha256", spec.sha256]
    if spec.size is not None:
        args += ["--size", str(spec.size)]
    return args


def unpack_format(wildcards):
    return dataset_file(wildcards).archive


def preprocess_inputs(wildcards):
    """The verified files of a benchmark's dataset; archives as their extracted folders."""
    dataset = BENCHMARKS[wildcards.benchmark].dataset
    return [
        f"resources/datasets/{dataset.name}/{f.local_name}"
        + ("" if f.archive == "none" else ".unpacked")
        for f in dataset.files
    ]


def preprocess_spec(wildcards):
    """The benchmark's preprocessing section as JSON (a change re-runs preprocessing, nothing else)."""
    return json.dumps(BENCHMARKS[wildcards.benchmark].preprocessing.model_dump(mode="json"), sort_keys=True)


# --- systems --------------------------------------------------------------------------------------------


def system_file(wildcards):
    return f"{SYSTEMS_DIR}/{wildcards.system}.yaml"


def detect_args(wildcards):
    """Flags of `benchwright detect`: accepted differences, and the run rules' version pins
    (recorded always, enforced in submission mode)."""
    args = []
    if wildcards.system in PLAN.campaign.accept_system_mismatch:
        args.append("--accept-mismatch")
    for package, spec in sorted(PLAN.rules.framework_versions.items()):
        args += ["--pin", f"{package}={spec}"]
    if PLAN.campaign.mode.value == "submission":
        args.append("--enforce-pins")
    return args
