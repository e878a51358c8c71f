"""Which containers run_docker may remove as leftovers of earlier jobs (containers/runner.py, hardening case 11):
only benchwright's own, stopped, whose run is over. Against real processes; the engine side is in
tests/integration/test_docker_daemon_loss.py."""

from __future__ import annotations

import subprocess

import pytest

from benchwright.containers import runner
from benchwright.containers.runner import OWNER_LABEL, RUN_LABEL, is_leftover, process_owner
from benchwright.containers.spec import MANAGED_LABEL, ContainerJob, docker_kwargs


@pytest.fixture(scope="module")
def owners():
    gone = subprocess.Popen(["sleep", "30"])
    dead = process_owner(gone.pid)
    gone.kill()
    gone.wait()
    alive = subprocess.Popen(["sleep", "60"])
    try:
        yield {"dead": dead, "alive": process_owner(alive.pid)}
    finally:
        alive.kill()
        alive.wait()


def labels(owner: str, run: str = "r1") -> dict[str, str]:
    return {MANAGED_LABEL: "true", OWNER_LABEL: owner, RUN_LABEL: run}


def test_every_container_benchwright_creates_carries_its_label():
    kwargs = docker_kwargs(ContainerJob(image="img", command=("true",), labels={"org.benchwright.job": "x"}))
    assert kwargs["labels"] == {"org.benchwright.job": "x", MANAGED_LABEL: "true"}


@pytest.mark.parametrize("state", ["exited", "dead", "created"])
def test_a_stopped_container_of_a_gone_process_is_a_leftover(owners, state):
    assert is_leftover(labels(owners["dead"]), state)


@pytest.mark.parametrize("state", ["running", "paused", "restarting", "removing"])
def test_a_container_that_is_not_stopped_is_never_a_leftover(owners, state):
    assert not is_leftover(labels(owners["dead"]), state)


def test_a_container_of_a_running_process_or_another_host_or_without_the_label_is_kept(owners):
    assert not is_leftover(labels(owners["alive"]), "exited")  # another job, between its end and its cleanup
    host_rest = owners["dead"].split(" ", 1)[1]
    assert not is_leftover(labels(f"another-host {host_rest}"), "exited")
    assert not is_leftover({OWNER_LABEL: owners["dead"]}, "exited")  # not benchwright's
    assert not is_leftover({MANAGED_LABEL: "true"}, "exited")  # no owner recorded
    assert not is_leftover({MANAGED_LABEL: "true", OWNER_LABEL: "garbage"}, "exited")


def test_a_pid_reused_by_another_process_or_a_reboot_makes_a_leftover(owners):
    host, boot, pid, start = owners["alive"].split()
    assert is_leftover(labels(f"{host} {boot} {pid} {int(start) - 1}"), "exited")  # same pid, other process
    assert is_leftover(labels(f"{host} another-boot {pid} {start}"), "exited")


def test_in_this_process_only_runs_that_are_over_are_leftovers(monkeypatch):
    monkeypatch.setattr(runner, "_ACTIVE_RUNS", {"running-now"})
    assert not is_leftover(labels(process_owner(), "running-now"), "exited")
    assert is_leftover(labels(process_owner(), "finished-earlier"), "exited")
