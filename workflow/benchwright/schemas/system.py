"""A hardware SKU: what the machine is (every field of the MLPerf system description), how to run on it, and
how each benchmark is tuned for it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, model_validator

from .base import Auto, Identifier, JsonScalar, NonEmptyStr, Precision, Scenario, Spec, SystemType


class Host(Spec):
    """Host processors, memory, storage and network of one node."""

    processor_model_name: NonEmptyStr
    """CPU model as the vendor names it (e.g. "AMD EPYC 7763"), or `auto` to take the detected one."""

    processors_per_node: PositiveInt
    """CPU sockets per node."""

    processor_core_count: PositiveInt | Auto
    """Cores per processor, or `auto`."""

    processor_vcpu_count: PositiveInt | Auto = "auto"
    """Hardware threads per node (cores x sockets x SMT), or `auto` for the detected logical CPUs."""

    processor_frequency: str = "N/A"
    """Nominal or boost frequency, e.g. "2450 MHz"."""

    processor_caches: str = "N/A"
    """Cache sizes, e.g. "L1d 32K, L2 512K, L3 256M"."""

    processor_interconnect: str = "N/A"
    """Socket interconnect (e.g. "AMD Infinity Fabric")."""

    memory_capacity_gb: PositiveFloat | Auto
    """Host memory per node in GB, or `auto`."""

    memory_configuration: NonEmptyStr
    """DIMM layout, e.g. "16x 64GB DDR4-3200"."""

    storage_capacity: NonEmptyStr
    """e.g. "15 TB"."""

    storage_type: NonEmptyStr
    """e.g. "NVMe SSD"."""

    networking: NonEmptyStr
    """Network adapters, e.g. "8x 200Gb/s HDR InfiniBand"; "N/A" for a single node."""

    networking_topology: NonEmptyStr = "N/A"
    """e.g. "Fat tree"."""

    network_card_count: NonNegativeInt = 0
    """Network cards per node."""


class Accelerators(Spec):
    """Accelerators of one node; a CPU-only SKU has count 0 and "N/A" elsewhere."""

    count: NonNegativeInt
    """Accelerators per node."""

    model_name: NonEmptyStr = "N/A"
    """e.g. "NVIDIA A100-SXM4-80GB"."""

    memory_capacity_gb: NonNegativeFloat = 0
    """Memory per accelerator in GB."""

    memory_configuration: NonEmptyStr = "N/A"
    """e.g. "HBM2e"."""

    frequency: str = "N/A"
    """Boost clock, e.g. "1410 MHz"."""

    host_interconnect: NonEmptyStr = "N/A"
    """e.g. "PCIe Gen4 x16"."""

    interconnect: NonEmptyStr = "N/A"
    """Accelerator-to-accelerator link, e.g. "NVLink 3.0"."""

    interconnect_topology: str = "N/A"
    """e.g. "NVSwitch, all-to-all"."""

    on_chip_memories: str = "N/A"
    """e.g. "40 MB L2 per GPU"."""

    vendor: Literal["none", "nvidia", "amd", "intel", "other"] = "none"
    """Vendor; decides device requests (nvidia: CUDA device requests, `--nv` for Apptainer) and the devices runs
    use (nvidia: ``cuda:<i>``, one SUT worker per accelerator)."""

    mig_instances: tuple[Annotated[str, StringConstraints(pattern=r"^MIG-[0-9A-Za-z-]+$")], ...] = ()
    """NVIDIA MIG instances to run on instead of whole GPUs, by the UUID ``nvidia-smi -L`` prints (``MIG-...``):
    one SUT worker each. Each worker sees only its instance (``CUDA_VISIBLE_DEVICES``), as CUDA allows one MIG
    instance per process."""

    @model_validator(mode="after")
    def _described(self) -> Accelerators:
        if self.count > 0 and (self.model_name == "N/A" or self.vendor == "none"):
            raise ValueError("a SKU with accelerators must name their `model_name` and `vendor`")
        if self.count > 0 and self.memory_capacity_gb <= 0:
            raise ValueError("a SKU with accelerators must give `memory_capacity_gb` (per accelerator)")
        if self.mig_instances and self.vendor != "nvidia":
            raise ValueError("`mig_instances` are NVIDIA MIG instances: they need `vendor: nvidia`")
        return self


class Software(Spec):
    framework: NonEmptyStr
    """e.g. "PyTorch 2.13.0"."""

    operating_system: NonEmptyStr
    """e.g. "Ubuntu 22.04", or `auto`."""

    other_software_stack: NonEmptyStr
    """Drivers, CUDA, compilers, e.g. "CUDA 12.4, cuDNN 9.1, Driver 550.54"."""

    torch_version: str | None = None
    """torch version the results must come from; detection stops the run if the job's torch differs."""

    loadgen_version: str | None = None
    """mlcommons-loadgen version the results must come from."""


class Container(Spec):
    runtime: Literal["local", "docker", "apptainer"] = "local"
    """How jobs of this SKU run: on the host, in a Docker container, or in an Apptainer container."""

    image: Identifier = "cpu"
    """The image folder under containers/ (cpu, cuda, ...)."""

    shm_size: str = "1g"
    """Shared memory for the container (data loaders need more than Docker's 64 MB)."""

    sif: str | None = None
    """Apptainer: path of the image file (.sif) on the cluster; required with runtime apptainer."""

    @model_validator(mode="after")
    def _sif_for_apptainer(self) -> Container:
        if self.runtime == "apptainer" and not self.sif:
            raise ValueError("runtime apptainer needs `sif`: the path of the image file on the cluster")
        return self


class Slurm(Spec):
    """Where this SKU's hardware lives on a Slurm cluster, and what its jobs ask for there (the slurm profile).
    Account and QoS belong to the user, not the hardware: they come from the profile or the command line."""

    partition: str | None = None
    """Partition of the SKU's nodes; unset: the profile's `slurm_partition` (the cluster's default)."""

    constraint: str | None = None
    """Node features the jobs require (sbatch --constraint), e.g. "a100-80gb&ib"."""

    gpu_model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    """GPU type as the cluster's gres names it (sbatch --gpus=<model>:<count>), e.g. "a100"; unset: any type."""

    cpus_per_task: PositiveInt | None = None
    """CPUs of a measurement job; unset: the SKU's cores (processors_per_node x processor_core_count), or the
    whole node when that is `auto`."""

    mem_mb: PositiveInt | None = None
    """Memory of a measurement job per node, in MB; unset: 90% of a numeric memory_capacity_gb (what the node
    reports is a little less than its capacity), else the profile's default."""

    runtime_min: PositiveInt = 120
    """Wall-time limit of one measurement or training job, in minutes (a submission run lasts 10+ minutes)."""

    exclusive: bool = True
    """Measurement and training jobs take whole nodes (sbatch --exclusive): nothing else runs on the hardware
    being measured."""


class ScenarioTuning(Spec):
    """How one benchmark runs in one scenario on this SKU."""

    batch_size: PositiveInt = 1
    """Largest batch the SUT forms."""

    threads: PositiveInt | None = None
    """Worker threads; defaults to the cores the job gets."""

    target_qps: PositiveFloat | None = None
    """Server: the QPS LoadGen issues at (found by ranging when absent)."""

    expected_qps: PositiveFloat | None = None
    """Offline: the expected throughput LoadGen sizes the run by (measured when absent)."""

    target_latency_ms: PositiveFloat | None = None
    """SingleStream/MultiStream: expected latency LoadGen sizes the run by."""

    batching_timeout_us: NonNegativeInt = 2000
    """Server: how long a partial batch may wait for more queries."""

    intra_op_threads: PositiveInt | None = None
    """Threads one model call may use (torch.set_num_threads; onnxruntime's intra_op_num_threads); unset: the
    job's cores divided among the SUT's workers."""

    inter_op_threads: PositiveInt | None = None
    """Threads running independent operators of one call in parallel (onnxruntime's inter_op_num_threads, which
    then uses its parallel execution mode); unset: 1."""


class TrainingTuning(Spec):
    hyperparameters: dict[str, JsonScalar] = {}
    """Hyperparameters changed from the benchmark's reference recipe; in closed only borrowable ones."""


class BenchmarkTuning(Spec):
    scenarios: dict[Scenario, ScenarioTuning] = {}
    """Per-scenario tuning."""

    training: TrainingTuning | None = None
    """Training tuning."""


class OnnxRuntime(Spec):
    """How the onnxruntime backend runs on this SKU."""

    provider: Literal["auto", "cpu", "cuda", "tensorrt"] = "auto"
    """Execution provider: ``auto`` is CUDA on an NVIDIA SKU and the CPU elsewhere; ``tensorrt`` builds TensorRT
    engines (CUDA for what TensorRT does not take)."""


class System(Spec):
    id: Identifier
    """SKU id; equals the file name config/systems/<id>.yaml."""

    system_name: NonEmptyStr
    """Name in the submission, e.g. "DGX A100 (8x A100-SXM4-80GB)"."""

    system_type: SystemType
    """datacenter, edge or "datacenter,edge"; decides the required scenarios in closed."""

    status: Literal["available", "preview", "rdi"] = "available"
    """Availability category of the submission."""

    number_of_nodes: PositiveInt = 1
    """Nodes in the system."""

    host: Host
    """Host processors, memory, storage and network of one node."""

    accelerators: Accelerators
    """Accelerators of one node."""

    software: Software
    """Software stack the results come from."""

    cooling: NonEmptyStr = "air"
    """air or liquid."""

    hw_notes: str = ""
    """Anything about the hardware a reader of the results should know."""

    sw_notes: str = ""
    """Anything about the software a reader of the results should know."""

    precisions: tuple[Precision, ...] = Field(default=(Precision.fp32,), min_length=1)
    """Precisions the hardware runs natively."""

    container: Container = Container()
    """Container runtime and image."""

    slurm: Slurm = Slurm()
    """Where the SKU's nodes are on a Slurm cluster, and what its jobs ask for (used by the slurm profile)."""

    onnxruntime: OnnxRuntime = OnnxRuntime()
    """Execution provider of the onnxruntime backend."""

    tuning: dict[Identifier, BenchmarkTuning] = {}
    """Per-benchmark tuning, keyed by benchmark name."""

    price_per_hour_usd: NonNegativeFloat | None = None
    """On-demand price of the whole system per hour, for cost normalizations."""

    power_limit_w: PositiveFloat | None = None
    """Configured power limit of the system (all accelerators), in watts."""

    scales: Identifier | None = None
    """The SKU this one scales up: the same accelerator model and host, another accelerator count (e.g. an 8-GPU
    SKU scaling a 1-GPU one). When a campaign runs both, the report gives throughput scaling and efficiency,
    X(N) / (k X(base)) for inference and T(base) / (k T(N)) for time to train, k being the accelerator ratio."""

    @property
    def accelerators_total(self) -> int:
        return self.accelerators.count * self.number_of_nodes


__all__ = [
    "Accelerators", "BenchmarkTuning", "Container", "Host", "OnnxRuntime", "ScenarioTuning", "Slurm", "Software", "System",
    "TrainingTuning",
]
