# Validation, input functions and wildcard constraints. Rules hold no logic: everything they do is a
# `benchwright` command, and everything they need to know comes from the functions below.
import glob
import json
import os
import re
import sys

from snakemake.exceptions import WorkflowError

from benchwright import paths
from benchwright.cluster import RESOURCE_KEYS, profile_defaults, slurm_resources
from benchwright.config import load_plan, model_dir
from benchwright.data.folder import expand_path
from benchwright.errors import CampaignError
from benchwright.fixtures import command_args as fixture_command_args
from benchwright.harness.scenarios import RANGED, policy
from benchwright.schemas.base import Precision, Scenario
from benchwright.report.table import report_spec
from benchwright.submission.spec import bundle_spec


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


TRAINED_WEIGHTS = [n for n, b in BENCHMARKS.items() if b.model.weights.recipe == "reference-training"]
TRAINED_LMS = [n for n, b in BENCHMARKS.items() if b.model.weights.recipe == "causal-lm"]
FETCHED_WEIGHTS = [n for n, b in BENCHMARKS.items() if b.model.weights.recipe is None]
FOLDER_DATASETS = {b.dataset.name: n for n, b in BENCHMARKS.items() if b.dataset.is_folder}
FIXTURES = [n for n, sel in PLAN.campaign.benchmarks.items() if sel.fixture]
"""Benchmarks of the campaign run on the stand-ins of their `fixture` section (rules/fixtures.smk)."""


def one_of(values):
    """A wildcard constraint matching exactly these values (never anything when there are none)."""
    return "|".join(re.escape(str(getattr(v, "value", v))) for v in values) or "(?!)"


def shell_path(pattern):
    """A benchwright.paths pattern as a rule's shell command spells it: `{benchmark}` -> `{wildcards.benchmark}`
    (rules take paths from benchwright.paths; their outputs, inputs and params use the patterns as they are)."""
    return re.sub(r"\{(\w+)\}", r"{wildcards.\1}", pattern)


wildcard_constraints:
    benchmark=one_of(BENCHMARKS),
    system=one_of(SYSTEMS),
    dataset=one_of(sorted({d for d, _ in DATASET_FILES})),
    file="[A-Za-z0-9][A-Za-z0-9._-]*",
    scenario=one_of(Scenario),
    precision=one_of(Precision),
    mode="performance|accuracy",
    index=r"\d+",
    repeat=r"[2-9]|[1-9]\d+",
    campaign=re.escape(PLAN.campaign.name),


def all_targets():
    """Every final output of the campaign."""
    targets = [paths.data_dir(name) for name in BENCHMARKS]
    targets += [paths.detected(sku) for sku in PLAN.systems_in_use]
    targets += inference_targets()
    targets += training_targets()
    targets += submission_targets()
    targets += report_targets()
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


def folder_manifest(benchmark):
    dataset = BENCHMARKS[benchmark].dataset
    return f"{PLAN.campaign.paths.benchmarks}/{dataset.manifest}"


def preprocess_inputs(wildcards):
    """The verified files of a benchmark's dataset (archives as their extracted folders); a folder dataset's
    manifest (the folder itself is verified against it by the preprocessing step)."""
    dataset = BENCHMARKS[wildcards.benchmark].dataset
    if dataset.is_folder:
        made = [paths.fixture_dataset(wildcards.benchmark)] if wildcards.benchmark in FIXTURES else []
        return [folder_manifest(wildcards.benchmark), *made]
    return [
        paths.dataset_file(dataset.name, f.local_name) + ("" if f.archive == "none" else ".unpacked")
        for f in dataset.files
    ]


def preprocess_args(wildcards):
    """The inputs of `benchwright preprocess`: the dataset's files, or a folder with its manifest and cache."""
    bench = BENCHMARKS[wildcards.benchmark]
    dataset = bench.dataset
    if not dataset.is_folder:
        return ["--inputs", *preprocess_inputs(wildcards)]
    folder = expand_path(dataset.path, field="dataset.path", file=PLAN.files[f"benchmark:{wildcards.benchmark}"])
    return ["--inputs", str(folder), "--folder-manifest", folder_manifest(wildcards.benchmark),
            "--manifest-sha256", dataset.manifest_sha256,
            "--cache", paths.dataset_verify_cache(dataset.name)]


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


# --- cluster resources -------------------------------------------------------------------------------

# The profile's --default-resources (partition, account, memory), used where a SKU says nothing.
PROFILE_DEFAULTS = profile_defaults(getattr(workflow.resource_settings.default_resources, "args", None))


def sku_resources(kind):
    """Resources of a job of a SKU (`resources: **sku_resources("measurement")`): what it asks Slurm for, from
    the SKU (benchwright.cluster.slurm_resources). Local runs ignore them.

    Computed once per SKU here; a resource with the same value on every SKU is a constant (Snakemake then calls
    no function for it), the others are a lookup by the job's SKU."""
    per_sku = {sku: slurm_resources(system, kind, PROFILE_DEFAULTS) for sku, system in SYSTEMS.items()}

    def one(key):
        values = {sku: resources[key] for sku, resources in per_sku.items()}
        if len({repr(v) for v in values.values()}) <= 1:
            return next(iter(values.values()), None)
        return lambda wildcards: values[wildcards.system]

    return {key: one(key) for key in RESOURCE_KEYS}


# --- models and inference -------------------------------------------------------------------------------

WHOLE_MACHINE = 1024  # Snakemake caps a job's threads at --cores: a measurement takes every core it is given


def node_cores(system):
    """The cores of one node of a SKU (WHOLE_MACHINE where the SKU says `auto`)."""
    host = system.host
    if host.processor_core_count == "auto":
        return WHOLE_MACHINE
    return host.processor_core_count * host.processors_per_node


NODE_CORES = {sku: node_cores(system) for sku, system in SYSTEMS.items()}


def measurement_threads(wildcards):
    """A performance measurement takes the whole node of its SKU, so no two measurements share a machine."""
    return NODE_CORES[wildcards.system]


# What the rules use (`threads: MEASUREMENT_THREADS`): a constant when every SKU has the same node, so Snakemake
# calls no function per job for it.
MEASUREMENT_THREADS = (
    next(iter(NODE_CORES.values())) if len(set(NODE_CORES.values())) == 1 else measurement_threads
)


def reference_spec(wildcards):
    """Model and training recipe of the FP32 reference weights, as JSON."""
    bench = BENCHMARKS[wildcards.benchmark]
    training = bench.training
    return json.dumps(
        {
            "architecture": bench.model.architecture,
            "parameters": bench.model.parameters,
            "optimizer": training.optimizer,
            "hyperparameters": training.hyperparameters,
            "epochs": training.max_epochs,
            "seed": PLAN.campaign.seed,
            "declared_accuracy": bench.accuracy.reference,
        },
        sort_keys=True,
    )


def lm_spec(wildcards):
    """Architecture, recipe and seed of a `recipe: causal-lm` model (benchwright.models.lm.LMSpec), as JSON."""
    bench = BENCHMARKS[wildcards.benchmark]
    return json.dumps({"parameters": bench.model.parameters, "hyperparameters": bench.model.weights.hyperparameters,
                       "seed": PLAN.campaign.seed}, sort_keys=True)


def fixture_dataset_args(wildcards):
    """`benchwright fixture` options of a benchmark's stand-in dataset."""
    recipe = BENCHMARKS[wildcards.benchmark].fixture.dataset
    return [recipe.kind, *fixture_command_args(recipe.parameters)]


def fixture_model_inputs(wildcards):
    """The stand-in dataset folder, when the stand-in model is made for its files (bert: its vocab.txt)."""
    recipe = BENCHMARKS[wildcards.benchmark].fixture.model
    return [paths.fixture_dataset(wildcards.benchmark)] if recipe.dataset_files else []


def fixture_model_args(wildcards):
    recipe = BENCHMARKS[wildcards.benchmark].fixture.model
    return [recipe.kind, *fixture_command_args(recipe.parameters, recipe.dataset_files,
                                               paths.fixture_dataset(wildcards.benchmark))]


def fixture_weights(wildcards):
    """A fixture benchmark's stand-in model file, which the weights step copies and checks like a user's."""
    if wildcards.benchmark in FIXTURES:
        return [paths.fixture_model(wildcards.benchmark, BENCHMARKS[wildcards.benchmark].model.format)]
    return []


def weights_url_args(wildcards):
    """Published weights by URL, or a local model file (copied and checked through the same step)."""
    weights = BENCHMARKS[wildcards.benchmark].model.weights
    url = weights.url
    if url is None:
        local = expand_path(weights.path, field="model.weights.path",
                            file=PLAN.files[f"benchmark:{wildcards.benchmark}"])
        url = local.resolve().as_uri()
    return ["--url", url, "--sha256", weights.sha256]


def fp32_model_file(benchmark):
    """The FP32 model file of a benchmark (its name depends on the format: weights.pt, model.onnx, ...)."""
    return paths.model_file(benchmark, BENCHMARKS[benchmark].model.format, "fp32")


FETCHED_MODEL_FILES = sorted({paths.MODEL_FILES[BENCHMARKS[n].model.format] for n in FETCHED_WEIGHTS})


def quantize_spec(wildcards):
    bench = BENCHMARKS[wildcards.benchmark]
    return json.dumps(
        {
            "architecture": bench.model.architecture,
            "parameters": bench.model.parameters,
            "calibration_sha256": bench.calibration.sha256,
        },
        sort_keys=True,
    )


def calibration_list(wildcards):
    bench = BENCHMARKS[wildcards.benchmark]
    return f"{PLAN.campaign.paths.benchmarks}/{bench.calibration.sample_list}"


def model_input(wildcards):
    """The model file a run of this precision loads (int8: the quantized model; the others: the FP32 model)."""
    fmt = BENCHMARKS[wildcards.benchmark].model.format
    return paths.model_file(wildcards.benchmark, fmt, wildcards.precision)


def model_folder(wildcards):
    return model_dir(wildcards.benchmark, wildcards.precision)


RUN_SPECS = {}  # (benchmark, system, scenario, precision, mode) -> RunSpec JSON: ranging and performance share it


def run_spec(wildcards, mode=None):
    """The RunSpec of one LoadGen run, as JSON (a change re-runs exactly that run)."""
    key = (wildcards.benchmark, wildcards.system, wildcards.scenario, wildcards.precision, mode or wildcards.mode)
    spec = RUN_SPECS.get(key)
    if spec is None:
        spec = RUN_SPECS[key] = PLAN.run_spec(*key).model_dump_json()
    return spec


def ranging_spec(wildcards):
    return run_spec(wildcards, mode="performance")


def ranging_input(wildcards):
    """Performance runs (and their repeats) are sized by the ranging result of their SKU (QPS or expected
    latency)."""
    if wildcards.get("mode", "performance") == "performance" and wildcards.scenario in RANGED:
        return [
            paths.ranging_file(wildcards.system, wildcards.benchmark, wildcards.precision, wildcards.scenario)
        ]
    return []


def ranging_args(wildcards):
    return [arg for path in ranging_input(wildcards) for arg in ("--ranging", path)]


def accuracy_args(wildcards):
    bench = BENCHMARKS[wildcards.benchmark]
    acc = bench.accuracy
    return [
        "--benchmark",
        wildcards.benchmark,
        "--task",
        bench.task.value,
        "--metric",
        acc.metric,
        "--reference",
        str(acc.reference),
        "--target-fraction",
        str(acc.target_fraction),
        *(["--fixture"] if wildcards.benchmark in FIXTURES else []),
        "--keep-below-target",  # a miss is a result: the report shows it, the bundle refuses it
    ]


def compliance_tests(benchmark):
    """The compliance tests the campaign's division requires of a benchmark (closed: TEST01, TEST04, ...)."""
    if not PLAN.rules.divisions[PLAN.campaign.division].compliance_tests:
        return ()
    official = PLAN.rules.inference.benchmarks.get(
        BENCHMARKS[benchmark].inference.mlperf_benchmark or ""
    )
    return official.compliance_tests if official else ()


def performance_run_spec(wildcards):
    return run_spec(wildcards, mode="performance")


def inference_targets():
    """Every performance run, passed accuracy check and required compliance test of the campaign."""
    out = []
    for job in PLAN.inference_jobs:
        base = PLAN.inference_dir(job)
        out += [f"{base}/performance", f"{base}/accuracy.txt", *PLAN.repeat_runs(job)]
        out += [f"{base}/{test}" for test in compliance_tests(job.benchmark)]
    return out


# --- training -------------------------------------------------------------------------------------------


def training_spec(wildcards):
    """The TrainingRunSpec of one seeded run, as JSON."""
    return PLAN.training_run_spec(
        wildcards.benchmark, wildcards.system, int(wildcards.index)
    ).model_dump_json()


def training_check_args(wildcards):
    """Ruleset, and our own rules file for a benchmark outside the ruleset."""
    training = BENCHMARKS[wildcards.benchmark].training
    args = ["--ruleset", PLAN.rules.training.ruleset]
    if training.compliance_rules:
        args += ["--rules", f"{PLAN.campaign.paths.benchmarks}/{training.compliance_rules}"]
    return args


def training_implementation_config(wildcards):
    """An external training implementation's config file: a change to it re-runs the training runs."""
    impl = BENCHMARKS[wildcards.benchmark].training.implementation
    return [f"{PLAN.campaign.paths.benchmarks}/{impl.config}"] if impl and impl.config else []


def training_check_inputs(wildcards):
    training = BENCHMARKS[wildcards.benchmark].training
    if training.compliance_rules:
        return [f"{PLAN.campaign.paths.benchmarks}/{training.compliance_rules}"]
    return []


def training_runs(wildcards):
    """The run folders of a training result."""
    return list(PLAN.training_runs(wildcards.benchmark, wildcards.system))


def training_records(wildcards):
    return [paths.run_record(run) for run in training_runs(wildcards)]


def training_checks(wildcards):
    return [
        paths.training_compliance(wildcards.system, wildcards.benchmark, i)
        for i in range(PLAN.required_runs(wildcards.benchmark))
    ]


def training_score_args(wildcards):
    args = [
        "--benchmark",
        wildcards.benchmark,
        "--system",
        wildcards.system,
        "--allowed-non-converged",
        str(PLAN.rules.training.allowed_non_converged_runs),
    ]
    reference = BENCHMARKS[wildcards.benchmark].training.reference_epochs_to_target
    if reference:
        args += ["--reference-epochs", str(reference)]
    return args


def training_targets():
    return [
        paths.training_score(system, benchmark)
        for benchmark, system in PLAN.training_jobs
    ]


# --- containers -----------------------------------------------------------------------------------------


def image_input(wildcards):
    """The image record a job of a docker SKU depends on (a rebuilt image re-runs what used it)."""
    runtime = SYSTEMS[wildcards.system].container
    return [paths.image_record(runtime.image)] if runtime.runtime == "docker" else []


# What the rules use (`image=IMAGE_INPUT`): no image to depend on when no SKU of the campaign runs in docker.
IMAGE_INPUT = image_input if any(s.container.runtime == "docker" for s in SYSTEMS.values()) else []


def container_args(output):
    """Arguments of `benchwright container-run` for the job writing ``output`` (a path pattern): the SKU
    decides the runtime; results/ is read-only inside, the output's folder read-write."""

    def args(wildcards):
        out = ["--system", f"{SYSTEMS_DIR}/{wildcards.system}.yaml", "--ro", "results"]
        out += [arg for record in image_input(wildcards) for arg in ("--image-record", record)]
        out += ["--rw", os.path.dirname(output.format(**dict(wildcards.items())))]
        endpoint = BENCHMARKS[wildcards.benchmark].model.endpoint if "benchmark" in wildcards.keys() else None
        if endpoint is not None:  # the SUT talks to the campaign's server: the host's network, the key by name
            out += ["--network"] + (["--pass-env", endpoint.api_key_env] if endpoint.api_key_env else [])
        return out

    return args


WORKFLOW_DIR = workflow.basedir  # the checkout: containers/ and the package belong to the workflow


def image_source(wildcards):
    """The image's build files, in the workflow's checkout (not the run's working directory)."""
    folder = os.path.join(WORKFLOW_DIR, "containers", wildcards.image)
    return {
        "dockerfile": os.path.join(folder, "Dockerfile"),
        "lock": os.path.join(folder, "requirements.lock"),
    }


def image_checkout(wildcards, input):
    """The checkout an image is built from: the folder above containers/<image>/ (from the rule's input)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(input.dockerfile)))


def package_sources():
    """What goes into an image: the benchwright package and its build file."""
    package = os.path.join(WORKFLOW_DIR, "workflow", "benchwright")
    return sorted(glob.glob(os.path.join(package, "**", "*.py"), recursive=True)) + [
        os.path.join(WORKFLOW_DIR, "pyproject.toml")
    ]


# --- submission -----------------------------------------------------------------------------------------

BUNDLE = bundle_spec(PLAN, campaign_files())
CAMPAIGN = PLAN.campaign.name


def bundle_inputs(wildcards):
    """Everything the bundle is assembled from: finished, checked results (a failed check stops the DAG before)."""
    inputs = []
    for e in BUNDLE.inference:
        where = (e.system, e.benchmark, e.precision, e.scenario)
        inputs += [paths.inference_run(*where, "performance"), paths.inference_run(*where, "accuracy"),
                   paths.accuracy_txt(*where), paths.accuracy_record(*where)]  # the records: their commands
        inputs += [f"{e.run}/{test}" for test in e.compliance_tests]
    for e in BUNDLE.training:
        inputs += list(e.runs) + [paths.training_score(e.system, e.benchmark)]
    for e in (*BUNDLE.inference, *BUNDLE.training):  # what provenance/ links each result to
        ev = e.evidence  # the manifest is a file of the preprocessing rule's folder output: depend on the folder
        inputs += [os.path.dirname(ev.data_manifest)]
        inputs += [p for p in (ev.fp32_record, ev.calibration, ev.calibration_list) if p]
    inputs += [s.detected for s in BUNDLE.systems.values()]
    return list(dict.fromkeys(inputs + list(BUNDLE.config_files)))


def submission_targets():
    if not (BUNDLE.inference or BUNDLE.training):
        return []
    return [paths.published(CAMPAIGN)]


# --- report ---------------------------------------------------------------------------------------------

REPORT_SPEC = report_spec(PLAN)


def report_inputs(wildcards):
    """The finished runs the table reads, failed ones included (an INVALID run or a missed accuracy is a result)."""
    inputs = []
    for item in REPORT_SPEC.inference:
        inputs += [f"{item.run}/performance", f"{item.run}/accuracy.txt", *item.repeats]
    for item in REPORT_SPEC.training:
        inputs += list(item.runs) + [paths.training_score(item.system, item.benchmark)]
    return inputs


def report_ranging(wildcards):
    """The ranging results a SKU's throughput-against-latency plot reads (Server's)."""
    return [paths.ranging_file(i.system, i.benchmark, i.precision, i.scenario) for i in REPORT_SPEC.inference
            if i.system == wildcards.system and policy(i.scenario).ranging_plot]


def report_tier_ranging(wildcards):
    """The ranging results the SLO tiers read (every latency-bound scenario's), when the campaign declares tiers."""
    if not REPORT_SPEC.tiers:
        return []
    return [paths.ranging_file(i.system, i.benchmark, i.precision, i.scenario) for i in REPORT_SPEC.inference
            if policy(i.scenario).latency_bound]


def report_targets():
    if not (REPORT_SPEC.inference or REPORT_SPEC.training):
        return []
    return [paths.REPORT_INDEX] + [paths.report_page(s) for s in REPORT_SPEC.systems]
