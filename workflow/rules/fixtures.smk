# Fixture campaigns: the stand-in dataset folder and model of a benchmark's `fixture` section, made by
# `benchwright fixture`, then verified by the dataset and weights steps exactly as a user's files are.


rule fixture_dataset:
    output:
        directory(paths.FIXTURE_DATASET),
    log:
        "logs/fixtures/{benchmark}/dataset.log",
    wildcard_constraints:
        benchmark=one_of(FIXTURES),
    params:
        args=fixture_dataset_args,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright fixture {params.args:q} --out {output:q} > {log:q} 2>&1"


rule fixture_model:
    input:
        fixture_model_inputs,
    output:
        paths.FIXTURE_MODEL,
    log:
        "logs/fixtures/{benchmark}/model.{modelfile}.log",
    wildcard_constraints:
        benchmark=one_of(FIXTURES),
        modelfile=one_of(FETCHED_MODEL_FILES),
    params:
        args=fixture_model_args,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright fixture {params.args:q} --out {output:q} > {log:q} 2>&1"
