# Inference: MLCommons LoadGen runs in every scenario, performance and accuracy, with ranging and accuracy checks.
# Performance and ranging jobs take every core the run has, so no two measurements share the machine.


rule range_performance:
    input:
        model=model_input,
        data=paths.DATA,
        detected=paths.DETECTED,
        image=IMAGE_INPUT,
    output:
        paths.RANGING,
    log:
        "logs/ranging/{system}/{benchmark}/{precision}/{scenario}.log",
    threads: MEASUREMENT_THREADS
    resources:
        **sku_resources("measurement"),
    params:
        spec=ranging_spec,
        model=model_folder,
        container=container_args(paths.RANGING),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright container-run {params.container:q} -- range --spec {params.spec:q} --model {params.model:q} --data {input.data:q}"
        " --out {output:q} 2>&1 | tee {log:q}"


rule loadgen_performance:
    input:
        model=model_input,
        data=paths.DATA,
        detected=paths.DETECTED,
        ranging=ranging_input,
        image=IMAGE_INPUT,
    output:
        directory(paths.INFERENCE_RUN),
    log:
        "logs/inference/{system}/{benchmark}/{precision}/{scenario}/{mode}.log",
    benchmark:
        paths.INFERENCE_TIMING
    wildcard_constraints:
        mode="performance",
    threads: MEASUREMENT_THREADS
    resources:
        **sku_resources("measurement"),
    params:
        spec=run_spec,
        model=model_folder,
        ranging=ranging_args,
        container=container_args(paths.INFERENCE_RUN),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright container-run {params.container:q} -- loadgen --spec {params.spec:q} --model {params.model:q} --data {input.data:q}"
        " --detected {input.detected:q} {params.ranging:q} --keep-invalid --out {output:q} 2>&1 | tee {log:q}"


rule loadgen_repeat:
    input:
        model=model_input,
        data=paths.DATA,
        detected=paths.DETECTED,
        ranging=ranging_input,
        image=IMAGE_INPUT,
    output:
        directory(paths.REPEAT_RUN),
    log:
        "logs/inference/{system}/{benchmark}/{precision}/{scenario}/repeat_{repeat}.log",
    benchmark:
        paths.REPEAT_TIMING
    threads: MEASUREMENT_THREADS
    resources:
        **sku_resources("measurement"),
    params:
        spec=performance_run_spec,
        model=model_folder,
        ranging=ranging_args,
        container=container_args(paths.REPEAT_RUN),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright container-run {params.container:q} -- loadgen --spec {params.spec:q} --model {params.model:q} --data {input.data:q}"
        " --detected {input.detected:q} {params.ranging:q} --keep-invalid --out {output:q} 2>&1 | tee {log:q}"


use rule loadgen_performance as loadgen_accuracy with:
    input:
        model=model_input,
        data=paths.DATA,
        detected=paths.DETECTED,
        image=IMAGE_INPUT,
    wildcard_constraints:
        mode="accuracy",
    threads: 1
    params:
        spec=run_spec,
        model=model_folder,
        ranging=[],
        container=container_args(paths.INFERENCE_RUN),


rule accuracy_check:
    input:
        run=paths.ACCURACY_RUN,
        data=paths.DATA,
    output:
        txt=paths.ACCURACY_TXT,
        record=paths.ACCURACY_RECORD,
    log:
        "logs/inference/{system}/{benchmark}/{precision}/{scenario}/accuracy_check.log",
    params:
        args=accuracy_args,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright accuracy --run {input.run:q} --data {input.data:q} {params.args:q}"
        " --out {output.txt:q} --record {output.record:q} 2>&1 | tee {log:q}"


rule compliance_test:
    input:
        model=model_input,
        data=paths.DATA,
        performance=paths.PERFORMANCE_RUN,
        accuracy=paths.ACCURACY_RUN,
        image=IMAGE_INPUT,
    output:
        directory(paths.COMPLIANCE_TEST),
    log:
        "logs/inference/{system}/{benchmark}/{precision}/{scenario}/{test}.log",
    benchmark:
        paths.COMPLIANCE_TIMING
    wildcard_constraints:
        test="TEST01|TEST04",
    threads: MEASUREMENT_THREADS
    resources:
        **sku_resources("measurement"),
    params:
        spec=performance_run_spec,
        model=model_folder,
        container=container_args(paths.COMPLIANCE_TEST),
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright container-run {params.container:q} -- compliance --test {wildcards.test} --spec {params.spec:q} --model {params.model:q}"
        " --data {input.data:q} --performance-run {input.performance:q} --accuracy-run {input.accuracy:q}"
        " --out {output:q} 2>&1 | tee {log:q}"
