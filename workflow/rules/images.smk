# Container images: built offline from containers/<image>/ (wheelhouse + local base); the record of the image id
# is what containerized jobs depend on, so a rebuilt image re-runs exactly the jobs that used it.


rule build_image:
    input:
        unpack(image_source),
        sources=package_sources(),
    output:
        paths.IMAGE_RECORD,
    log:
        "logs/images/{image}.log",
    wildcard_constraints:
        image="[a-z0-9][a-z0-9_-]*",
    params:
        checkout=image_checkout,
    conda:
        "../envs/benchwright.yaml"
    shell:
        "benchwright image --name {wildcards.image} --record {output:q}"
        " --containers {params.checkout:q}/containers --project {params.checkout:q} 2> {log:q}"
