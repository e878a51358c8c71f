# Results at a glance: the results table and statistics, one HTML page per SKU with its plots, and a page that
# compares the SKUs. The pages and plots are also registered for `snakemake --report report.html`.


rule report_table:
    input:
        runs=report_inputs,
        ranging=report_tier_ranging,
    output:
        table=report(paths.REPORT_TABLE, category="Results", caption="../report/table.rst"),
        summary=paths.REPORT_SUMMARY,
        status=paths.REPORT_STATUS,
        status_json=paths.REPORT_STATUS_JSON,
        tiers=paths.REPORT_TIERS,
        scaling=paths.REPORT_SCALING,
    log:
        "logs/report/table.log",
    params:
        spec=REPORT_SPEC.model_dump_json(),
        out_dir=lambda wildcards, output: os.path.dirname(output.summary),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright table --spec {params.spec:q} --out-dir {params.out_dir:q} 2>&1 | tee {log:q}"


rule report_sku:
    input:
        table=paths.REPORT_TABLE,
        summary=paths.REPORT_SUMMARY,
        ranging=report_ranging,
    output:
        page=report(paths.REPORT_PAGE, category="Reports", subcategory="{system}",
                    caption="../report/sku.rst"),
        plots=report(directory(paths.REPORT_PLOTS), patterns=["{name}.png"], category="Plots",
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
        table=paths.REPORT_TABLE,
        summary=paths.REPORT_SUMMARY,
        pages=expand(paths.REPORT_PAGE, system=list(REPORT_SPEC.systems)),
    output:
        report(paths.REPORT_INDEX, category="Reports", caption="../report/index.rst"),
    log:
        "logs/report/index.log",
    params:
        spec=REPORT_SPEC.model_dump_json(),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright report --index --spec {params.spec:q} --table {input.table:q} --summary {input.summary:q}"
        " --out {output:q} 2>&1 | tee {log:q}"
