# Submission: the campaign's MLPerf bundle (inference and training trees, sha256 manifest, deterministic tarball),
# the validator with mlperf-logging's checkers on the training tree, and publishing into a new version folder of
# submissions/<campaign>/ (an existing version is never overwritten). The validator runs again, last, on the
# published copy.


rule submission_bundle:
    input:
        bundle_inputs,
    output:
        bundle=directory(paths.BUNDLE),
        tarball=paths.BUNDLE_TARBALL,
    log:
        "logs/submission/{campaign}/bundle.log",
    params:
        spec=BUNDLE.model_dump_json(),
        checkout=WORKFLOW_DIR,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright bundle --spec {params.spec:q} --checkout {params.checkout:q} --out {output.bundle:q}"
        " --tarball {output.tarball:q} 2>&1 | tee {log:q}"


rule submission_check:
    input:
        bundle=paths.BUNDLE,
        tarball=paths.BUNDLE_TARBALL,
    output:
        report=paths.BUNDLE_CHECK,
        json=paths.BUNDLE_CHECK_JSON,
    log:
        "logs/submission/{campaign}/check.log",
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright check {input.bundle:q} --tarball {input.tarball:q} --json {output.json:q} --out {output.report:q}"
        " 2>&1 | tee {log:q}"


rule submission_publish:
    input:
        bundle=paths.BUNDLE,
        tarball=paths.BUNDLE_TARBALL,
        report=paths.BUNDLE_CHECK,
    output:
        paths.PUBLISHED,
    log:
        "logs/submission/{campaign}/publish.log",
    params:
        to=paths.PUBLISH_DIR,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright publish --bundle {input.bundle:q} --tarball {input.tarball:q} --report {input.report:q}"
        " --to {params.to:q} --receipt {output:q} 2>&1 | tee {log:q}"
