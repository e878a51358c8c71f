# Models: the FP32 reference weights (trained by a seeded rule, or fetched), and the calibrated INT8 model.


rule train_reference:
    input:
        data="results/data/{benchmark}",
    output:
        weights="results/models/{benchmark}/fp32/weights.pt",
        record="results/models/{benchmark}/fp32/record.json",
    log:
        "logs/models/{benchmark}/train_reference.log",
    benchmark:
        "results/timings/train_reference/{benchmark}.tsv"
    wildcard_constraints:
        benchmark=one_of(TRAINED_WEIGHTS),
    threads: 2
    params:
        spec=reference_spec,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright train-reference --spec {params.spec:q} --data {input.data:q}"
        " --out results/models/{wildcards.benchmark}/fp32 --threads {threads} 2> {log:q}"


rule fetch_weights:
    output:
        weights="results/models/{benchmark}/fp32/{modelfile}",
    log:
        "logs/models/{benchmark}/fetch_weights.{modelfile}.log",
    wildcard_constraints:
        benchmark=one_of(FETCHED_WEIGHTS),
        modelfile=one_of(FETCHED_MODEL_FILES),
    params:
        args=weights_url_args,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright fetch {params.args:q} --out {output.weights:q}"
        " --quarantine resources/quarantine/weights 2> {log:q}"


rule quantize_int8:
    input:
        weights="results/models/{benchmark}/fp32/weights.pt",
        data="results/data/{benchmark}",
        calibration=calibration_list,
    output:
        model="results/models/{benchmark}/int8/model.pt",
        record="results/models/{benchmark}/int8/calibration.json",
    log:
        "logs/models/{benchmark}/quantize_int8.log",
    benchmark:
        "results/timings/quantize_int8/{benchmark}.tsv"
    params:
        spec=quantize_spec,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright quantize --spec {params.spec:q} --weights results/models/{wildcards.benchmark}/fp32"
        " --data {input.data:q} --calibration-list {input.calibration:q}"
        " --out results/models/{wildcards.benchmark}/int8 2> {log:q}"
