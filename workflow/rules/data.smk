# Data stage: download + sha256 verification, safe extraction of archives, deterministic preprocessing.


rule download:
    output:
        paths.DATASET_FILE,
    log:
        "logs/download/{dataset}/{file}.log",
    params:
        args=fetch_args,
        quarantine=paths.QUARANTINE,
    retries: 1
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright fetch {params.args:q} --out {output:q} --quarantine {params.quarantine:q} 2> {log:q}"


rule unpack:
    input:
        paths.DATASET_FILE,
    output:
        directory(paths.DATASET_UNPACKED),
    log:
        "logs/unpack/{dataset}/{file}.log",
    params:
        fmt=unpack_format,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright extract --archive {input:q} --format {params.fmt:q} --out {output:q} 2> {log:q}"


rule preprocess:
    input:
        preprocess_inputs,
    output:
        directory(paths.DATA),
    log:
        "logs/preprocess/{benchmark}.log",
    benchmark:
        paths.PREPROCESS_TIMING
    params:
        spec=preprocess_spec,
        inputs=preprocess_args,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright preprocess --spec {params.spec:q} {params.inputs:q} --out {output:q} 2> {log:q}"
