# Models: the FP32 reference weights (trained by a seeded rule, or fetched), and the calibrated INT8 model.


rule train_reference:
    input:
        data=paths.DATA,
    output:
        weights=paths.FP32_WEIGHTS,
        record=paths.FP32_RECORD,
    log:
        "logs/models/{benchmark}/train_reference.log",
    benchmark:
        paths.TRAIN_REFERENCE_TIMING
    wildcard_constraints:
        benchmark=one_of(TRAINED_WEIGHTS),
    threads: 2
    params:
        spec=reference_spec,
        out=paths.FP32_DIR,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright train-reference --spec {params.spec:q} --data {input.data:q}"
        " --out {params.out:q} --threads {threads} 2> {log:q}"


rule train_lm:
    input:
        data=paths.DATA,
    output:
        weights=paths.LM_WEIGHTS,
        record=paths.FP32_RECORD,
    log:
        "logs/models/{benchmark}/train_lm.log",
    benchmark:
        paths.TRAIN_REFERENCE_TIMING
    wildcard_constraints:
        benchmark=one_of(TRAINED_LMS),
    threads: 2
    params:
        spec=lm_spec,
        out=paths.FP32_DIR,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright train-lm --spec {params.spec:q} --data {input.data:q}"
        " --out {params.out:q} --threads {threads} 2> {log:q}"


rule fetch_weights:
    input:
        fixture_weights,
    output:
        weights=paths.FP32_MODEL,
    log:
        "logs/models/{benchmark}/fetch_weights.{modelfile}.log",
    wildcard_constraints:
        benchmark=one_of(FETCHED_WEIGHTS),
        modelfile=one_of(FETCHED_MODEL_FILES),
    params:
        args=weights_url_args,
        quarantine=paths.WEIGHTS_QUARANTINE,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright fetch {params.args:q} --out {output.weights:q} --quarantine {params.quarantine:q} 2> {log:q}"


rule quantize_int8:
    input:
        weights=paths.FP32_WEIGHTS,
        data=paths.DATA,
        calibration=calibration_list,
    output:
        model=paths.INT8_MODEL,
        record=paths.INT8_RECORD,
    log:
        "logs/models/{benchmark}/quantize_int8.log",
    benchmark:
        paths.QUANTIZE_TIMING
    params:
        spec=quantize_spec,
        weights=lambda wildcards, input: os.path.dirname(input.weights),
        out=paths.INT8_DIR,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright quantize --spec {params.spec:q} --weights {params.weights:q}"
        " --data {input.data:q} --calibration-list {input.calibration:q} --out {params.out:q} 2> {log:q}"
