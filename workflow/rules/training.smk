# Training: seeded time-to-train runs with MLPerf logs, a compliance check of every log, the olympic-mean score.
# A run is a measurement: it takes every core of its SKU's node.


rule train_run:
    input:
        data=paths.DATA,
        detected=paths.DETECTED,
        image=IMAGE_INPUT,
        implementation_config=training_implementation_config,
    output:
        directory(paths.TRAINING_RUN),
    log:
        "logs/training/{system}/{benchmark}/run_{index}.log",
    benchmark:
        paths.TRAINING_TIMING
    threads: MEASUREMENT_THREADS
    resources:
        **sku_resources("training"),
    params:
        spec=training_spec,
        container=container_args(paths.TRAINING_RUN),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright container-run {params.container:q} -- train --spec {params.spec:q} --data {input.data:q} --out {output:q} --threads {threads}"
        " --detected {input.detected:q}"
        " 2>&1 | tee {log:q}"


rule training_compliance:
    input:
        run=paths.TRAINING_RUN,
        rules=training_check_inputs,
    output:
        paths.TRAINING_COMPLIANCE,
    log:
        "logs/training/{system}/{benchmark}/run_{index}.compliance.log",
    params:
        args=training_check_args,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright training-check --log {input.run:q}/result.txt {params.args:q} --out {output:q} 2> {log:q}"


rule training_score:
    input:
        runs=training_runs,
        checks=training_checks,
    output:
        paths.TRAINING_SCORE,
    log:
        "logs/training/{system}/{benchmark}/score.log",
    params:
        args=training_score_args,
        records=training_records,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright training-score --records {params.records:q} {params.args:q} --out {output:q} 2>&1 | tee {log:q}"
