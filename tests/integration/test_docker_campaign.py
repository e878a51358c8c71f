"""The default campaign with the docker runtime: every inference and training job ran inside the cpu image, and
the accuracy equals the local runtime's."""

from __future__ import annotations

import json
import re
import shutil
import socket

import pytest
import yaml

from tests.workflow.conftest import REPO, snakemake

pytestmark = [pytest.mark.service, pytest.mark.workflow]
HOST = socket.gethostname()


def test_default_campaign_in_docker_matches_local(docker_client, cpu_image, tmp_path):
    docker_dir, local_dir = tmp_path / "docker", tmp_path / "local"
    for d in (docker_dir, local_dir):
        shutil.copytree(REPO / "config", d / "config")
    sku = docker_dir / "config/systems/cpu-host.yaml"
    data = yaml.safe_load(sku.read_text())
    data["container"]["runtime"] = "docker"
    sku.write_text(yaml.safe_dump(data, sort_keys=False))
    config = docker_dir / "config/config.yaml"
    campaign = yaml.safe_load(config.read_text())
    campaign["benchmarks"]["pydoc-lm"]["scenarios"] = ["Offline"]  # the LM in the image too; one scenario is enough
    config.write_text(yaml.safe_dump(campaign, sort_keys=False))

    snakemake(docker_dir, "--cores", "2", timeout=1800)
    image = json.loads((docker_dir / "results/images/cpu.json").read_text())
    assert image["tag"] == cpu_image["tag"]  # the same image definition (its id differs: a fresh benchwright wheel)

    records = sorted((docker_dir / "results/inference").glob("cpu-host/digits-cnn/*/*/*/record.json"))
    records += sorted((docker_dir / "results/training").glob("cpu-host/digits-cnn/run_*/record.json"))
    records += sorted((docker_dir / "results/inference").glob("cpu-host/pydoc-lm/fp32/Offline/*/record.json"))
    assert len(records) == 16 + 5 + 2
    for path in records:
        execution = json.loads(path.read_text())["execution"]
        # Only a container has its own id as hostname (/.dockerenv is no proof: some hosts, this VM among
        # them, carry one from the image they were built from).
        assert execution["runtime"] == "docker" and execution["image_id"] == image["id"], path
        assert re.fullmatch(r"[0-9a-f]{12}", execution["hostname"]) and execution["hostname"] != HOST, path

    # The same accuracy runs on the host.
    targets = [f"results/inference/cpu-host/digits-cnn/{p}/Offline/accuracy.txt" for p in ("fp32", "int8")]
    snakemake(local_dir, "--cores", "2", *targets, timeout=900)
    for target in targets:
        local = (local_dir / target).read_text().splitlines()[0]
        for scenario in ("SingleStream", "MultiStream", "Server", "Offline"):
            in_docker = (docker_dir / target.replace("Offline", scenario)).read_text().splitlines()[0]
            assert in_docker == local, (target, scenario)
    local_record = json.loads((local_dir / "results/inference/cpu-host/digits-cnn/fp32/Offline/accuracy/record.json"
                               ).read_text())
    assert local_record["execution"]["runtime"] == "local" and local_record["execution"]["hostname"] == HOST
