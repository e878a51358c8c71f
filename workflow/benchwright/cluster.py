"""What each job asks a Slurm cluster for, derived from its SKU; and how multi-node training is launched.

The slurm profile (workflow/profiles/slurm) runs the DAG with snakemake-executor-plugin-slurm, which turns a
job's Snakemake resources into sbatch flags: ``slurm_partition`` (-p), ``constraint`` (-C), ``cpus_per_task``,
``mem_mb`` (--mem), ``runtime`` (-t, minutes), ``gpu``/``gpu_model`` (--gpus=[model:]count), ``nodes``, ``tasks``
and ``slurm_extra``. A resource set to None is left out, so the profile's default (or Slurm's) applies.
"""

from __future__ import annotations

import ast
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .schemas.system import System

JobKind = Literal["measurement", "training", "detect"]
RESOURCE_KEYS = ("slurm_partition", "constraint", "cpus_per_task", "mem_mb", "runtime", "gpu", "gpu_model", "nodes",
                 "tasks", "slurm_extra")
DETECT_RUNTIME_MIN = 10
DETECT_MEM_MB = 2000
MEMORY_HEADROOM = 0.9  # a node reports a little less memory than its capacity; ask for what it can give
RENDEZVOUS_PORT = 29500


def slurm_resources(system: System, kind: JobKind, defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Snakemake resources of a job of ``kind`` on ``system`` (None: leave it to the profile or Slurm).

    - measurement (LoadGen runs, ranging, compliance tests): one whole node of the SKU (``--exclusive``), its
      GPUs, CPUs and memory, the SKU's time limit;
    - training: the same on every node of the SKU, one task per node (each starts torchrun);
    - detect: the SKU's partition, features and GPUs, but one CPU and little memory: it only looks.

    ``defaults``: the profile's default resources (``--default-resources``), used where the SKU says nothing.
    """
    slurm, host, acc = system.slurm, system.host, system.accelerators
    defaults = dict(defaults or {})
    gpus = acc.count if acc.vendor == "nvidia" and acc.count else None
    out: dict[str, Any] = {
        "slurm_partition": slurm.partition or defaults.get("slurm_partition"),
        "constraint": slurm.constraint or defaults.get("constraint"),
        "gpu": gpus,
        "gpu_model": slurm.gpu_model if gpus else None,
    }
    if kind == "detect":
        out.update(cpus_per_task=1, mem_mb=DETECT_MEM_MB, runtime=DETECT_RUNTIME_MIN, nodes=1)
        return {k: out.get(k) for k in RESOURCE_KEYS}
    if slurm.cpus_per_task:
        cpus = slurm.cpus_per_task
    elif host.processor_core_count != "auto":
        cpus = host.processor_core_count * host.processors_per_node
    else:
        cpus = -1  # the whole node: no --cpus-per-task (the plugin's convention), the node by --exclusive
    if slurm.mem_mb:
        mem = slurm.mem_mb
    elif host.memory_capacity_gb != "auto":
        mem = int(host.memory_capacity_gb * 1024 * MEMORY_HEADROOM)
    else:
        mem = defaults.get("mem_mb") or 0
    nodes = system.number_of_nodes if kind == "training" else 1
    extra = ["--exclusive"] if slurm.exclusive or cpus == -1 else []
    if not mem:
        # Memory unknown (`auto`, no profile default): Snakemake needs a number, and 0 makes the plugin pass no
        # --mem; --mem=0 asks Slurm for all the memory of the node instead.
        mem = 0
        extra.append("--mem=0")
    if nodes > 1:
        extra.append("--ntasks-per-node=1")  # one torchrun launcher per node (srun starts them)
    out.update(cpus_per_task=cpus, mem_mb=mem, runtime=slurm.runtime_min, nodes=nodes,
               tasks=nodes if nodes > 1 and not gpus else None,  # with GPUs the plugin reads tasks per GPU
               slurm_extra=" ".join(extra) or None)
    return {k: out.get(k) for k in RESOURCE_KEYS}


def profile_defaults(args: Sequence[str] | None) -> dict[str, Any]:
    """``--default-resources`` as Snakemake received them (``name=value``, values being Python expressions),
    as plain values; expressions that are not literals (e.g. ``2*input.size_mb``) are left out."""
    out: dict[str, Any] = {}
    for arg in args or ():
        name, sep, value = str(arg).partition("=")
        if not sep:
            continue
        try:
            out[name.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            if value.strip().replace("_", "").replace("-", "").isalnum():
                out[name.strip()] = value.strip()  # a bare word: Snakemake reads it as a string
    return out


# --- multi-node training ---------------------------------------------------------------------------------


def allocation(env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The Slurm allocation this process runs in (None outside one): job id, node list, node count."""
    env = os.environ if env is None else env
    job = env.get("SLURM_JOB_ID")
    if not job:
        return None
    nodelist = env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST") or ""
    return {"job_id": job, "nodelist": nodelist, "nodes": int(env.get("SLURM_JOB_NUM_NODES")
                                                               or env.get("SLURM_NNODES") or 1)}


def first_host(nodelist: str, expand: Any = None) -> str:
    """The first host of a Slurm node list ("gpu[01-04],gpu07" -> "gpu01"), by ``scontrol show hostnames``."""
    if expand is None:
        def expand(spec: str) -> list[str]:
            out = subprocess.run(["scontrol", "show", "hostnames", spec], capture_output=True, text=True, check=True)
            return out.stdout.split()
    hosts = expand(nodelist)
    if not hosts:
        raise ValueError(f"no host in the Slurm node list {nodelist!r}")
    return hosts[0]


def multinode_command(command: Sequence[str], *, nodes: int, procs_per_node: int, job_id: str, head: str,
                      python: str = "python3", port: int = RENDEZVOUS_PORT) -> list[str]:
    """srun one torchrun per node of the allocation, meeting at a c10d rendezvous on the first node.

    ``command``: what torchrun starts per rank (``-m benchwright.cli train ...``).
    """
    return ["srun", f"--nodes={nodes}", f"--ntasks={nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1",
            python, "-m", "torch.distributed.run", f"--nnodes={nodes}", f"--nproc-per-node={procs_per_node}",
            "--rdzv-backend=c10d", f"--rdzv-endpoint={head}:{port}", f"--rdzv-id=benchwright-{job_id}", *command]


def torchrun_command(world_size: int, command: Sequence[str], *, python: str,
                     env: Mapping[str, str] | None = None, expand: Any = None) -> list[str]:
    """How ``benchwright train`` starts ``world_size`` ranks: torchrun on this node, or, inside a Slurm
    allocation of several nodes, srun with one torchrun per node and a rendezvous derived from the allocation."""
    alloc = allocation(env)
    if alloc is None or alloc["nodes"] <= 1:
        return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world_size}", *command]
    nodes = alloc["nodes"]
    if world_size % nodes:
        raise ValueError(f"{world_size} ranks do not divide over the allocation's {nodes} nodes")
    return multinode_command(command, nodes=nodes, procs_per_node=world_size // nodes, job_id=alloc["job_id"],
                             head=first_host(alloc["nodelist"], expand), python=python)

