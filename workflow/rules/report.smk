# Results at a glance: the results table and statistics, one HTML page per SKU with its plots, and a page that
# compares the SKUs. The pages and plots are also registered for `snakemake --report report.html`.


rule report_table:
    input:
        report_inputs,
    output:
        table=report("results/report/results.csv", category="Results", caption="../report/table.rst"),
        summary="results/report/summary.json",
    log:
        "logs/report/table.log",
    params:
        spec=REPORT_SPEC.model_dump_json(),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright table --spec {params.spec:q} --out-dir results/report 2>&1 | tee {log:q}"


rule report_sku:
    input:
        table="results/report/results.csv",
        summary="results/report/summary.json",
        ranging=report_ranging,
    output:
        page=report("results/report/{system}.html", category="Reports", subcategory="{system}",
                    caption="../report/sku.rst"),
        plots=report(directory("results/report/{system}"), patterns=["{name}.png"], category="Plots",
                     subcategory="{system}", caption="../report/plots.rst"),
    log:
        "logs/report/{system}.log",
    params:
        spec=REPORT_SPEC.model_dump_json(),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright report --spec {params.spec:q} --table {input.table:q} --summary {input.summary:q}"
        " --system {wildcards.system} --plots {output.plots:q} --out {output.page:q} 2>&1 | tee {log:q}"


rule report_index:
    input:
        table="results/report/results.csv",
        summary="results/report/summary.json",
        pages=expand("results/report/{system}.html", system=list(REPORT_SPEC.systems)),
    output:
        report("results/report/index.html", category="Reports", caption="../report/index.rst"),
    log:
        "logs/report/index.log",
    params:
        spec=REPORT_SPEC.model_dump_json(),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright report --index --spec {params.spec:q} --table {input.table:q} --summary {input.summary:q}"
        " --out {output:q} 2>&1 | tee {log:q}"
