# benchwright: MLPerf-style benchmarking as one reproducible Snakemake DAG.
# Entry point. The campaign (config/config.yaml, extended by --configfile) is validated once in
# workflow/rules/common.smk against the pydantic run-rule schemas before any job runs.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/fixtures.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/systems.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/inference.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/submission.smk"
include: "workflow/rules/report.smk"


# Light rules run where Snakemake runs (on a cluster: the login node), not as Slurm jobs.
localrules:
    all,
    download,
    unpack,
    fixture_dataset,
    fixture_model,
    accuracy_check,
    training_compliance,
    training_score,
    submission_bundle,
    submission_check,
    submission_publish,
    report_table,
    report_sku,
    report_index,


rule all:
    default_target: True
    input:
        all_targets(),
