# Data stage: download + sha256 verification, safe extraction of archives, deterministic preprocessing.


rule download:
    output:
        "resources/datasets/{dataset}/{file}",
    log:
        "logs/download/{dataset}/{file}.log",
    params:
        args=fetch_args,
    retries: 1
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright fetch {params.args:q} --out {output:q}"
        " --quarantine resources/quarantine/{wildcards.dataset} 2> {log:q}"


rule unpack:
    input:
        "resources/datasets/{dataset}/{file}",
    output:
        directory("resources/datasets/{dataset}/{file}.unpacked"),
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
        directory("results/data/{benchmark}"),
    log:
        "logs/preprocess/{benchmark}.log",
    benchmark:
        "results/timings/preprocess/{benchmark}.tsv"
    params:
        spec=preprocess_spec,
        inputs=preprocess_args,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright preprocess --spec {params.spec:q} {params.inputs:q} --out {output:q} 2> {log:q}"
