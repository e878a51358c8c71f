"""What each SKU's jobs ask Slurm for, as the sbatch command snakemake-executor-plugin-slurm builds from them;
the srun + torchrun launch of multi-node training; detection inside a job."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake.iocontainers import Namedlist
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string

from benchwright.cluster import first_host, profile_defaults, slurm_resources, torchrun_command
from benchwright.schemas import System

REPO = Path(__file__).resolve().parents[2]


def sku(name: str, **changes) -> System:
    data = yaml.safe_load((REPO / f"config/systems/{name}.yaml").read_text())
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return System.model_validate(data)


def sbatch(resources: dict, threads: int = 1) -> str:
    """The sbatch command line the slurm executor plugin builds for a job with these resources."""
    given = {k: v for k, v in resources.items() if v is not None}
    job = SimpleNamespace(resources=Namedlist(fromdict=given), threads=threads)
    partition = f"-p {given['slurm_partition']}" if "slurm_partition" in given else ""
    params = dict(run_uuid="job", slurm_logfile="job.log", comment_str="rule", account="", partition=partition,
                  workdir="/work")
    return get_submit_command(job, params) + set_gres_string(job)


def test_a_gpu_skus_measurement_takes_a_whole_node_of_its_partition_with_all_its_gpus():
    cmd = sbatch(slurm_resources(sku("a100-sxm4-80gb-x8"), "measurement"))
    for flag in ("-p gpu-a100", "-C a100-80gb", "--gpus=a100:8", "--cpus-per-task=128", "--exclusive",
                 "--nodes=1", "-t 120", f"--mem {int(2048 * 1024 * 0.9)}"):
        assert flag in cmd, (flag, cmd)


def test_detection_asks_for_the_skus_hardware_but_one_cpu():
    cmd = sbatch(slurm_resources(sku("h100-sxm-80gb-x8"), "detect"))
    for flag in ("-p gpu-h100", "-C h100-sxm", "--gpus=h100:8", "--cpus-per-task=1", "--mem 2000", "-t 10"):
        assert flag in cmd, (flag, cmd)
    assert "--exclusive" not in cmd


def test_multi_node_training_asks_for_every_node_and_one_task_per_node():
    two_nodes = sku("h100-sxm-80gb-x8", number_of_nodes=2)
    cmd = sbatch(slurm_resources(two_nodes, "training"))
    assert "--nodes=2" in cmd and "--ntasks-per-node=1" in cmd and "--gpus=h100:8" in cmd
    cpu_nodes = sku("cpu-host", number_of_nodes=3, slurm={"cpus_per_task": 8, "mem_mb": 16000})
    cmd = sbatch(slurm_resources(cpu_nodes, "training"))
    assert "--nodes=3" in cmd and "--ntasks=3" in cmd and "--cpus-per-task=8" in cmd and "--mem 16000" in cmd
    assert "--gpus" not in cmd


def test_an_auto_sku_takes_the_whole_node_and_the_profiles_defaults():
    res = slurm_resources(sku("cpu-host"), "measurement", defaults={"slurm_partition": "cpu", "mem_mb": 4000})
    cmd = sbatch(res)
    assert res["cpus_per_task"] == -1 and "--cpus-per-task" not in cmd  # the plugin's "leave it to Slurm"
    assert "--exclusive" in cmd and "-p cpu" in cmd and "--mem 4000" in cmd and "-C" not in cmd


def test_an_auto_sku_without_a_memory_default_asks_for_all_the_nodes_memory():
    res = slurm_resources(sku("cpu-host"), "measurement")
    assert res["mem_mb"] == 0  # a number, as Snakemake requires of mem_mb; the plugin then passes no --mem
    cmd = sbatch(res)
    assert "--mem=0" in cmd and "--mem " not in cmd


def test_profile_defaults_are_read_as_snakemake_gives_them():
    args = ["tmpdir=system_tmpdir", "slurm_partition='debug'", "mem_mb=4000", "slurm_account=proj42",
            "disk_mb=max(2*input.size_mb, 1000)"]
    assert profile_defaults(args) == {"slurm_partition": "debug", "mem_mb": 4000, "slurm_account": "proj42",
                                      "tmpdir": "system_tmpdir"}
    assert profile_defaults(None) == {}


def test_training_is_launched_by_torchrun_on_one_node_and_by_srun_across_an_allocation():
    single = torchrun_command(8, ["-m", "benchwright.cli", "train"], python="py", env={})
    assert single[:4] == ["py", "-m", "torch.distributed.run", "--standalone"] and "--nproc_per_node=8" in single
    env = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_JOB_NUM_NODES": "2"}
    multi = torchrun_command(16, ["-m", "benchwright.cli", "train"], python="py", env=env,
                             expand=lambda spec: ["gpu07", "gpu08"] if spec == "gpu[07-08]" else [])
    assert multi[:5] == ["srun", "--nodes=2", "--ntasks=2", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    for arg in ("--nnodes=2", "--nproc-per-node=8", "--rdzv-backend=c10d", "--rdzv-endpoint=gpu07:29500",
                "--rdzv-id=benchwright-4242"):
        assert arg in multi, arg
    assert multi[-3:] == ["-m", "benchwright.cli", "train"]
    with pytest.raises(ValueError, match="do not divide"):
        torchrun_command(3, ["x"], python="py", env=env, expand=lambda s: ["a", "b"])


def test_first_host_uses_scontrol_to_expand_the_node_list():
    import shutil

    if shutil.which("scontrol") is None:
        pytest.skip("no scontrol here (Slurm's client tools); the expansion is scontrol's")
    assert first_host("node[03-05],gpu1") == "node03"


def test_a_job_on_other_hardware_than_its_sku_stops(tmp_path):
    from benchwright.detect import SystemMismatch, detect, detection_record, node_check

    system = sku("cpu-host")
    facts = detect(gpu_probe=lambda: [])
    record = tmp_path / "detected.json"
    import json

    record.write_text(json.dumps(detection_record(system, facts, accept=False, system_file="cpu-host.yaml")))
    node = node_check(record, facts=facts)
    assert node["differences"] == [] and node["hostname"] == facts["hostname"]
    elsewhere = {**facts, "hostname": "gpu07", "slurm_job_id": "77",
                 "gpus": [{"name": "NVIDIA H100 80GB HBM3", "memory_gb": 80}]}
    with pytest.raises(SystemMismatch, match=r"runs on gpu07 \(Slurm job 77\), which is not the SKU `cpu-host`"):
        node_check(record, facts=elsewhere)
