"""Hardening case 11 (docs/reliability.md): a Docker daemon that dies during a job.

The shared engine (/var/run/docker.sock) serves other tests at the same time, so these tests start a second
engine of their own: a containerd and a dockerd with their own sockets, data root, exec root, pid file and
cgroup parent under one folder in /tmp (vfs storage: the only image is a ~2 MB rootfs made from the host's
/bin/sh and /bin/sleep, imported without network). The engine's own containerd is a separate process, as with
the distributions' packages (containerd.service beside docker.service), so SIGKILL of dockerd leaves the
running container to containerd until dockerd comes back. Teardown stops everything, kills whatever is left,
unmounts, removes the folder and cgroups, and checks that no process of it remains.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from benchwright.containers.runner import OWNER_LABEL, process_owner, run_docker
from benchwright.containers.spec import MANAGED_LABEL, job_for

from .test_docker import cpu_sku

pytestmark = pytest.mark.service

IMAGE = "benchwright-test/sleep:1"
SHIM_SOCKETS = Path("/run/containerd/s")  # containerd 1.6 puts every shim's socket here, whatever its state dir


def _rootfs_tar() -> bytes:
    """A minimal rootfs: the host's /bin/sh and /bin/sleep and the shared libraries `ldd` names for them."""
    files = {"/bin/sh", "/bin/sleep"}
    for binary in ("/bin/sh", "/bin/sleep"):
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            path = line.split("=>")[-1].split("(")[0].strip()
            if path.startswith("/"):
                files.add(path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        dirs = sorted({str(p) for f in files for p in Path(f).parents if str(p) != "/"} | {"/tmp"})
        for d in dirs:
            info = tarfile.TarInfo(d.lstrip("/"))
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "/tmp" else 0o755
            tar.addfile(info)
        for f in sorted(files):
            data = Path(f).resolve().read_bytes()  # the file a symlink (e.g. /lib64/ld-linux...) points to
            info = tarfile.TarInfo(f.lstrip("/"))
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class OwnEngine:
    """A containerd and a dockerd of this test module only."""

    def __init__(self, root: Path):
        self.root = root
        self.sock = root / "docker.sock"
        self.containerd_sock = root / "containerd.sock"
        self.cgroup_parent = root.name  # /sys/fs/cgroup/<controller>/<name>/<container id> (cgroupfs driver)
        self.log = root / "engine.log"
        self.dockerd: subprocess.Popen | None = None
        self.containerd: subprocess.Popen | None = None

    def client(self, timeout: int = 30):
        import docker

        return docker.DockerClient(base_url=f"unix://{self.sock}", version="1.41", timeout=timeout)

    def _spawn(self, cmd: list[str]) -> subprocess.Popen:
        with open(self.log, "ab") as log:
            return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def start_containerd(self) -> None:
        config = self.root / "containerd.toml"
        config.write_text(
            "version = 2\n"
            f'root = "{self.root}/containerd-root"\n'
            f'state = "{self.root}/containerd-state"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.containerd_sock}"\n'
            '[ttrpc]\n  address = ""\n'
            '[debug]\n  address = ""\n'
            '[metrics]\n  address = ""\n')
        self.containerd = self._spawn(["containerd", "--config", str(config)])
        deadline = time.monotonic() + 30
        while not self.containerd_sock.exists():
            if self.containerd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"containerd did not start:\n{self._tail()}")
            time.sleep(0.1)

    def start_dockerd(self) -> None:
        (self.root / "daemon.json").write_text("{}")
        self.dockerd = self._spawn([
            "dockerd", "--host", f"unix://{self.sock}", "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "dockerd.pid"),
            "--config-file", str(self.root / "daemon.json"), "--containerd", str(self.containerd_sock),
            "--storage-driver", "vfs", "--iptables=false", "--ip-forward=false", "--bridge=none",
            "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", f"/{self.cgroup_parent}"])
        deadline = time.monotonic() + 60
        while True:
            try:
                self.client(timeout=2).ping()
                return
            except Exception:  # noqa: BLE001 - not up yet
                if self.dockerd.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the test's dockerd did not answer:\n{self._tail()}") from None
                time.sleep(0.2)

    def kill_dockerd(self) -> None:
        """SIGKILL this engine's dockerd (only it: its pid), as a crash or the OOM killer would."""
        os.kill(self.dockerd.pid, signal.SIGKILL)
        self.dockerd.wait(timeout=10)

    # --- teardown -----------------------------------------------------------------------------------------
    def _cgroup_dirs(self) -> list[Path]:
        return [d for d in Path("/sys/fs/cgroup").glob(f"*/{self.cgroup_parent}") if d.is_dir()]

    def processes(self) -> set[int]:
        """Every process of this engine: the daemons, the shims (their command line names this folder) and
        whatever runs in its containers (their cgroups are under the engine's cgroup parent)."""
        pids = set()
        for d in self._cgroup_dirs():
            for procs in d.rglob("cgroup.procs"):
                pids.update(int(p) for p in procs.read_text().split())
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if str(self.root).encode() in (entry / "cmdline").read_bytes():
                        pids.add(int(entry.name))
                except OSError:
                    pass
        return pids - {os.getpid()}

    def _mounts(self) -> list[str]:
        points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        return [p for p in points if p == str(self.root) or p.startswith(f"{self.root}/")]

    def teardown(self) -> list[str]:
        problems = []
        state = self.root / "containerd-state/io.containerd.runtime.v2.task"
        ids = {d.name for d in state.glob("*/*")} if state.is_dir() else set()
        try:  # the polite way first: remove the containers, then stop the daemons
            client = self.client(timeout=10)
            for container in client.containers.list(all=True):
                container.remove(force=True)
        except Exception:  # noqa: BLE001 - the daemon may be down; the kills below clean up
            pass
        for proc in (self.dockerd, self.containerd):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        for _ in range(50):
            left = self.processes()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        if self.processes():
            problems.append(f"processes of the test engine survived: {sorted(self.processes())}")
        for point in sorted(self._mounts(), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False)
        if self._mounts():
            problems.append(f"mounts of the test engine remain: {self._mounts()}")
        for d in self._cgroup_dirs():
            for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
                sub.rmdir()
            d.rmdir()
        for cid in ids:  # a killed shim leaves its socket (named by a hash of containerd, namespace and id)
            for ns in ("moby",):
                digest = hashlib.sha256(os.path.join(str(self.containerd_sock), ns, cid).encode()).hexdigest()
                (SHIM_SOCKETS / digest).unlink(missing_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)
        if self.root.exists():
            problems.append(f"{self.root} could not be removed")
        return problems


@pytest.fixture(scope="module")
def engine():
    missing = [b for b in ("dockerd", "containerd", "containerd-shim-runc-v2", "runc", "ldd")
               if shutil.which(b) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install docker.io); see .ci/services/docker.sh")
    if os.geteuid() != 0:
        pytest.skip("a second Docker engine needs root")
    root = Path(tempfile.mkdtemp(prefix="bwdd-", dir="/tmp"))  # short: socket paths are limited to 107 bytes
    own = OwnEngine(root)
    try:
        try:
            own.start_containerd()
            own.start_dockerd()
        except RuntimeError as exc:
            pytest.skip(f"cannot start a second Docker engine here: {exc}")
        own.client().api.import_image_from_data(_rootfs_tar(), repository=IMAGE.split(":")[0],
                                                tag=IMAGE.split(":")[1])
        yield own
    finally:
        problems = own.teardown()
        assert not problems, "; ".join(problems)


def _labelled(client, label: str) -> list:
    return client.containers.list(all=True, filters={"label": label})


RUN_IN_A_PROCESS = """
import json, pickle, sys, time
import docker
from benchwright.containers.runner import ContainerError, run_docker
job = pickle.load(open(sys.argv[1], "rb"))
client = docker.DockerClient(base_url=sys.argv[2], version="1.41", timeout=30)
try:
    run_docker(job, client=client)
    print(json.dumps({"error": None, "at": time.time()}))
except ContainerError as exc:
    print(json.dumps({"error": str(exc), "at": time.time()}))
"""


def test_a_daemon_killed_during_a_job_fails_it_at_once_and_the_next_job_removes_its_container(engine, tmp_path,
                                                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    job = job_for(cpu_sku(), IMAGE, ["/bin/sh", "-c", f"echo started; sleep 60; echo done > {out}/result.txt"],
                  read_write=[out], label="daemon-loss")
    (tmp_path / "job.pickle").write_bytes(pickle.dumps(job))
    # A process of its own, like a Snakemake job: run_docker's container is labelled with that process.
    proc = subprocess.Popen([sys.executable, "-c", RUN_IN_A_PROCESS, str(tmp_path / "job.pickle"),
                             f"unix://{engine.sock}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = engine.client()
    deadline = time.monotonic() + 30
    while not client.containers.list(filters={"label": "org.benchwright.job=daemon-loss", "status": "running"}):
        assert time.monotonic() < deadline and proc.poll() is None, f"the job never ran: {proc.communicate()}"
        time.sleep(0.1)
    time.sleep(1)  # well inside the job's 60 s: run_docker is following the container's output
    killed = time.time()
    engine.kill_dockerd()
    stdout, stderr = proc.communicate(timeout=30)
    result = json.loads(stdout.strip().splitlines()[-1])
    assert "started" in stderr  # the container's output reached the job's log before the loss

    # What the user sees: at once, one message naming the problem and the fix.
    error = result["error"]
    assert error is not None and result["at"] - killed < 10, (result, killed)
    assert error.startswith("benchwright: lost the Docker engine during the job (")
    assert "the job did not finish. fix: check dockerd, then run the workflow again (it redoes this job" in error
    assert "Traceback" not in stderr
    assert list(out.iterdir()) == []  # nothing at the job's output (and nothing half-written)

    # The engine comes back on the same data root. Without live-restore it stops the job's container, which
    # run_docker could not remove while the engine was down: it stays, exited, labelled with the dead process.
    engine.start_dockerd()
    client = engine.client()
    (left,) = _labelled(client, "org.benchwright.job=daemon-loss")
    assert left.status == "exited" and left.labels[MANAGED_LABEL] == "true"
    assert left.labels[OWNER_LABEL].split()[2] == str(proc.pid)
    time.sleep(0.5)
    assert list(out.iterdir()) == []  # the interrupted command never finished

    # The next job removes it (and says so), then runs normally.
    out2 = tmp_path / "out2"
    lines: list[str] = []
    run_docker(job_for(cpu_sku(), IMAGE, ["/bin/sh", "-c", f"echo ok > {out2}/result.txt"], read_write=[out2],
                       label="after-loss"), client=client, emit=lines.append)
    assert (out2 / "result.txt").read_text() == "ok\n"
    assert f"removed the container {left.name} ({left.id[:12]}) that an earlier job left exited" in "".join(lines)
    assert not _labelled(client, MANAGED_LABEL)


def test_the_next_job_removes_only_benchwright_leftovers_of_finished_runs(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    client = engine.client()
    gone = subprocess.Popen(["sleep", "30"])
    dead_owner = process_owner(gone.pid)
    gone.kill()
    gone.wait()
    alive = subprocess.Popen(["sleep", "60"])  # another job's process, still running
    try:
        live_owner = process_owner(alive.pid)

        def container(name: str, labels: dict[str, str], command: str, start: bool = True):
            c = client.containers.create(IMAGE, ["/bin/sh", "-c", command], name=f"{engine.root.name}-{name}",
                                         labels=labels, network_mode="none")
            if start:
                c.start()
                if "sleep" not in command:
                    c.wait(timeout=30)
            return c

        ours = {MANAGED_LABEL: "true", "org.benchwright.job": "cleanup"}
        leftover = container("leftover", {**ours, OWNER_LABEL: dead_owner}, "exit 0")
        never_started = container("never-started", {**ours, OWNER_LABEL: dead_owner}, "exit 0", start=False)
        running = container("running", {**ours, OWNER_LABEL: dead_owner}, "sleep 60")
        other_job = container("other-job", {**ours, OWNER_LABEL: live_owner}, "exit 0")
        other_host = container("other-host", {**ours, OWNER_LABEL: f"elsewhere {dead_owner.split(' ', 1)[1]}"},
                               "exit 0")
        no_owner = container("no-owner", dict(ours), "exit 0")  # e.g. made by an older benchwright
        not_ours = container("not-ours", {"org.benchwright.job": "cleanup"}, "exit 0")  # no benchwright label

        lines: list[str] = []
        run_docker(job_for(cpu_sku(), IMAGE, ["/bin/sh", "-c", "exit 0"], label="cleaner"), client=client,
                   emit=lines.append)
        remaining = {c.name for c in client.containers.list(all=True)}
        assert leftover.name not in remaining and never_started.name not in remaining
        assert {running.name, other_job.name, other_host.name, no_owner.name, not_ours.name} <= remaining
        assert client.containers.get(running.id).status == "running"
        text = "".join(lines)
        assert leftover.id[:12] in text and never_started.id[:12] in text
        assert not _labelled(client, "org.benchwright.job=cleaner")  # the job removed its own container
    finally:
        alive.kill()
        alive.wait()
        for c in client.containers.list(all=True):
            c.remove(force=True)
