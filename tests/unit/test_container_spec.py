"""The docker-py call and the Apptainer command built for a SKU's job (no daemon needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from benchwright.containers.spec import CONTAINER_USER, apptainer_command, docker_kwargs, job_for
from benchwright.schemas import System

REPO = Path(__file__).resolve().parents[2]


def sku(name: str) -> System:
    return System.model_validate(yaml.safe_load((REPO / f"config/systems/{name}.yaml").read_text()))


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for p in ("results/data/digits-cnn", "results/models/digits-cnn/fp32", "results/inference/x"):
        (tmp_path / p).mkdir(parents=True)
    return tmp_path


def test_gpu_sku_gets_nvidia_device_requests(paths):
    job = job_for(sku("a100-sxm4-80gb-x8"), "sha256:abc", ["benchwright", "loadgen", "--spec", "{}"],
                  read_only=["results/data/digits-cnn"], read_write=["results/inference/x"], cpus=16,
                  mem_limit_mb=64000)
    kwargs = docker_kwargs(job)
    (request,) = kwargs["device_requests"]
    assert request["Driver"] == "nvidia" and request["Count"] == 8 and request["Capabilities"] == [["gpu"]]
    assert kwargs["shm_size"] == "32g" and kwargs["network_mode"] == "none"
    assert kwargs["nano_cpus"] == 16_000_000_000 and kwargs["mem_limit"] == kwargs["memswap_limit"] == "64000m"
    assert kwargs["volumes"] == {
        str(paths / "results/data/digits-cnn"): {"bind": str(paths / "results/data/digits-cnn"), "mode": "ro"},
        str(paths / "results/inference/x"): {"bind": str(paths / "results/inference/x"), "mode": "rw"},
    }
    assert kwargs["command"] == ["benchwright", "loadgen", "--spec", "{}"] and kwargs["image"] == "sha256:abc"
    assert kwargs["labels"]["org.benchwright.system"] == "a100-sxm4-80gb-x8"


def test_specific_gpus_are_requested_by_id(paths):
    job = job_for(sku("h100-sxm-80gb-x8"), "img", ["true"], gpu_ids=["2", "3"])
    (request,) = docker_kwargs(job)["device_requests"]
    assert request["DeviceIDs"] == ["2", "3"] and request.get("Count") in (None, 0)


def test_cpu_sku_requests_no_devices_and_runs_unprivileged(paths):
    kwargs = docker_kwargs(job_for(sku("cpu-host"), "img", ["true"]))
    assert "device_requests" not in kwargs
    assert kwargs["user"] not in (None, "0", "0:0", "root")
    import os

    assert kwargs["user"] == (CONTAINER_USER if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}")


def test_a_path_both_read_and_written_is_mounted_once_read_write(paths):
    job = job_for(sku("cpu-host"), "img", ["true"], read_only=["results"], read_write=["results"])
    assert [(m.source, m.read_only) for m in job.mounts] == [(str(paths / "results"), False)]


def test_apptainer_command_is_exact_for_a_gpu_sku(paths):
    job = job_for(sku("a100-sxm4-80gb-x8"), "/images/cuda.sif", ["benchwright", "train", "--spec", "{}"],
                  read_only=["results/data/digits-cnn"], read_write=["results/inference/x"],
                  env={"OMP_NUM_THREADS": "8"})
    data, out = paths / "results/data/digits-cnn", paths / "results/inference/x"
    assert apptainer_command(job) == [
        "apptainer", "exec", "--containall", "--cleanenv", "--no-home", "--pwd", str(paths),
        "--bind", f"{data}:{data}:ro", "--bind", f"{out}:{out}:rw",
        "--env", "OMP_NUM_THREADS=8", "--nv",
        "/images/cuda.sif", "benchwright", "train", "--spec", "{}",
    ]


def test_apptainer_pins_the_allocated_gpus(paths):
    cmd = apptainer_command(job_for(sku("a30-x1"), "/i.sif", ["true"], gpu_ids=["1"]))
    assert "--nv" in cmd and cmd[cmd.index("--nv") + 1:cmd.index("--nv") + 3] == ["--env", "CUDA_VISIBLE_DEVICES=1"]


def test_apptainer_command_for_a_cpu_sku_has_no_nv(paths):
    assert "--nv" not in apptainer_command(job_for(sku("cpu-host"), "/i.sif", ["true"]))


def test_an_endpoint_job_gets_the_hosts_network_and_its_key_by_name_only(monkeypatch):
    import subprocess

    from benchwright.containers import runner

    monkeypatch.setenv("LM_API_KEY", "sk-secret-value")
    job = job_for(sku("h100-sxm-80gb-x8"), "sha256:abc", ["benchwright", "loadgen"], network=True,
                  pass_env=["LM_API_KEY", "UNSET_VARIABLE"])
    kwargs = docker_kwargs(job)
    assert kwargs["network_mode"] == "host"  # the SUT reaches the campaign's server
    assert kwargs["environment"]["LM_API_KEY"] == "sk-secret-value" and "UNSET_VARIABLE" not in kwargs["environment"]
    assert "sk-secret-value" not in repr(job)  # the job (and what is logged of it) holds the name, not the value
    cmd = apptainer_command(job)
    assert not any("sk-secret-value" in part for part in cmd)  # never on a command line
    seen = {}
    monkeypatch.setattr(subprocess, "run", lambda cmd, env=None: seen.update(env=env) or
                        subprocess.CompletedProcess(cmd, 0))
    assert runner.run_apptainer(job) == 0
    assert seen["env"]["APPTAINERENV_LM_API_KEY"] == "sk-secret-value"
    plain = docker_kwargs(job_for(sku("cpu-host"), "sha256:abc", ["benchwright", "loadgen"]))
    assert plain["network_mode"] == "none" and "LM_API_KEY" not in plain["environment"]
