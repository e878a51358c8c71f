# System detection: the facts of the machine, compared with the declared SKU before any benchmark job runs.


rule detect_system:
    input:
        system=system_file,
    output:
        paths.DETECTED,
    log:
        "logs/detect/{system}.log",
    resources:
        **sku_resources("detect"),
    params:
        args=detect_args,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright detect --system {input.system:q} --out {output:q} {params.args:q} 2> {log:q}"
