"""Container start overhead per job: the same command in the SKU's cpu image (through docker-py, as the runner
starts it) and on the host, in the same invocation. Target (issue 11): at most 1 s per job with overlay2."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from common import Context, Row, register

IMAGE = "benchwright/cpu:0.1.0"
COMMAND = ["python3", "-c", "import benchwright, mlperf_loadgen"]


def _docker_once(client) -> float:
    start = time.perf_counter()
    container = client.containers.create(IMAGE, COMMAND, network_mode="none", user="1000:1000", detach=True)
    try:
        container.start()
        code = container.wait()["StatusCode"]
    finally:
        container.remove(force=True)
    if code != 0:
        raise RuntimeError(f"the command exited {code} in {IMAGE}")
    return time.perf_counter() - start


def _host_once() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *COMMAND[1:]], check=True)
    return time.perf_counter() - start


@register("container_overhead", order=50, description="the same command in the cpu image and on the host")
def container_overhead(ctx: Context) -> list[Row]:
    try:
        import docker

        client = docker.from_env()
        client.images.get(IMAGE)
    except Exception as exc:  # noqa: BLE001 - no engine or no image: say so in the table
        ctx.emit(f"skipped: {exc}")
        return [Row("container_overhead", "docker run (cpu image)", "start overhead per job", "s", [],
                    notes=f"not measured: {exc}; build the image with `benchwright image --name cpu`")]
    _docker_once(client)  # first run pays for the page cache; not counted
    docker_s, host_s = [], []
    for i in range(max(ctx.repeats, 5)):
        pair = (_docker_once(client), _host_once()) if i % 2 == 0 else tuple(reversed((_host_once(), _docker_once(client))))
        docker_s.append(pair[0])
        host_s.append(pair[1])
        ctx.record(docker_s=pair[0], host_s=pair[1])
    overhead = [d - h for d, h in zip(docker_s, host_s)]
    storage = client.info().get("Driver")
    median = statistics.median(overhead)
    return [Row("container_overhead", "docker create+start+wait+remove", "start overhead per job (docker - host)",
                "s", overhead, baseline="same command on the host",
                baseline_values=host_s, ratio=None, notes=(f"target ≤ 1 s: {'met' if median <= 1.0 else 'NOT met'}; "
                f"storage driver {storage}; command `{' '.join(COMMAND)}`; median docker "
                f"{statistics.median(docker_s):.2f} s, host {statistics.median(host_s):.2f} s"))]
