#!/usr/bin/env bash
# Ensure a working Docker engine for docker-py on this machine (Debian bookworm, root, no image registry).
#
#   * installs docker.io (and debootstrap, for containers/base/build-base.sh) when missing; `apt-get update`
#     only when the package lists do not know them;
#   * storage: overlay2 on a loop-mounted, sparse ext4 file; falls back to vfs (slow: each `docker run`
#     copies the whole image) with a warning when the loop mount is impossible;
#   * starts dockerd in the background only when no daemon answers, and waits for it.
#
# Idempotent: when the daemon already answers this is a fast no-op. See docs in
# /work/shared/docs/services-here.md for how this was worked out.
#
# Environment overrides (all optional):
#   BW_DOCKER_IMG        loop image file            (default /var/lib/benchwright-docker.img)
#   BW_DOCKER_IMG_SIZE   its sparse size            (default 30G)
#   BW_DOCKER_ROOT       data root for overlay2     (default /var/lib/docker-bw)
#   BW_DOCKER_VFS_ROOT   data root for the fallback (default /var/lib/docker-bw-vfs)
#   BW_DOCKER_LOG        dockerd log                (default /var/log/benchwright-dockerd.log)
#   BW_DOCKER_STORAGE    force "vfs" to skip the loop mount
#   BW_DOCKER_WAIT       seconds to wait for the daemon (default 60)
set -euo pipefail

IMG=${BW_DOCKER_IMG:-/var/lib/benchwright-docker.img}
IMG_SIZE=${BW_DOCKER_IMG_SIZE:-30G}
DATA_ROOT=${BW_DOCKER_ROOT:-/var/lib/docker-bw}
VFS_ROOT=${BW_DOCKER_VFS_ROOT:-/var/lib/docker-bw-vfs}
LOG=${BW_DOCKER_LOG:-/var/log/benchwright-dockerd.log}
WAIT=${BW_DOCKER_WAIT:-60}
SOCK=/var/run/docker.sock

say()  { echo "docker.sh: $*"; }
warn() { echo "docker.sh: WARNING: $*" >&2; }
die()  { echo "docker.sh: ERROR: $*" >&2; exit 1; }

daemon_answers() {
  [ -S "$SOCK" ] && timeout 10 docker info >/dev/null 2>&1
}

report() {
  local driver version
  driver=$(timeout 10 docker info --format '{{.Driver}}' 2>/dev/null) || driver=unknown
  version=$(timeout 10 docker version --format '{{.Server.Version}}' 2>/dev/null) || version=unknown
  say "daemon is up: storage driver=${driver}, server version=${version}, socket=${SOCK}"
  if [ "$driver" = vfs ]; then
    warn "storage driver is vfs: every 'docker run' copies the whole image (slow)"
  fi
}

[ "$(id -u)" -eq 0 ] || die "must run as root (installs packages, mounts a loop device, starts dockerd)"

# --- 1. packages ---------------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
# docker-py needs only the daemon, but the scripts here use the CLI; docker.io provides both.
command -v docker >/dev/null 2>&1 || { [[ " ${missing[*]-} " == *" docker.io "* ]] || missing+=(docker.io); }

if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; cannot install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  need_update=0
  for p in "${missing[@]}"; do
    cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then need_update=1; fi
  done
  if [ "$need_update" -eq 1 ]; then
    say "package lists do not know ${missing[*]}: apt-get update"
    apt-get update -qq || die "apt-get update failed"
  fi
  say "installing ${missing[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    if [ "$need_update" -eq 0 ]; then
      say "install failed with the current package lists; retrying after apt-get update"
      apt-get update -qq || die "apt-get update failed"
      apt-get install -y -qq --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
    else
      die "apt-get install ${missing[*]} failed"
    fi
  fi
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd still not found after installing docker.io"
command -v docker >/dev/null 2>&1 || die "docker CLI still not found after installing docker.io"

# --- 2. already running? -------------------------------------------------------------------------------
if daemon_answers; then
  say "a Docker daemon already answers on ${SOCK}; nothing to start"
  report
  exit 0
fi

# A dockerd that is still starting up (pid file with a live process): wait for it rather than start another.
dockerd_pid() {
  local pid
  [ -r /var/run/docker.pid ] || return 1
  pid=$(cat /var/run/docker.pid 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] \
    && echo "$pid"
}

wait_for_daemon() {
  local pid=$1 i
  for ((i = 0; i < WAIT; i++)); do
    if daemon_answers; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null && ! dockerd_pid >/dev/null; then
      echo "docker.sh: dockerd (pid $pid) exited; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2 || true
      return 1
    fi
    sleep 1
  done
  echo "docker.sh: dockerd (pid $pid) did not answer within ${WAIT}s; last lines of $LOG:" >&2
  tail -n 30 "$LOG" >&2 || true
  return 1
}

if pid=$(dockerd_pid); then
  say "dockerd (pid $pid) is running but not answering yet; waiting up to ${WAIT}s"
  wait_for_daemon "$pid" || die "the running dockerd (pid $pid) does not answer; stop it or check $LOG"
  report
  exit 0
fi

# --- 3. storage -----------------------------------------------------------------------------------------
setup_overlay_storage() {
  # Returns non-zero (with a message) when the loop-mounted ext4 cannot be provided.
  if mountpoint -q "$DATA_ROOT"; then
    local fstype
    fstype=$(findmnt -n -o FSTYPE --target "$DATA_ROOT" 2>/dev/null || true)
    if [ "$fstype" != ext4 ] && [ "$fstype" != xfs ]; then
      warn "$DATA_ROOT is mounted but is ${fstype:-unknown}, not ext4"
      return 1
    fi
    say "$DATA_ROOT already mounted (${fstype})"
    return 0
  fi
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  if ! grep -qw overlay /proc/filesystems; then
    warn "the kernel has no overlay filesystem"
    return 1
  fi
  if [ ! -e "$IMG" ]; then
    say "creating sparse ${IMG_SIZE} image $IMG"
    mkdir -p "$(dirname "$IMG")"
    truncate -s "$IMG_SIZE" "$IMG" || { warn "cannot create $IMG"; rm -f "$IMG"; return 1; }
  fi
  if [ "$(blkid -p -o value -s TYPE "$IMG" 2>/dev/null || true)" != ext4 ]; then
    say "formatting $IMG as ext4"
    # -E nodiscard: nothing to discard in a fresh sparse file; keeps mkfs fast.
    mkfs.ext4 -q -F -E nodiscard -L bw-docker "$IMG" || { warn "mkfs.ext4 on $IMG failed"; return 1; }
  fi
  mkdir -p "$DATA_ROOT"
  if ! mount -o loop "$IMG" "$DATA_ROOT" 2>/tmp/bw-docker-mount.err; then
    warn "cannot loop-mount $IMG on $DATA_ROOT: $(cat /tmp/bw-docker-mount.err 2>/dev/null)"
    rm -f /tmp/bw-docker-mount.err
    return 1
  fi
  rm -f /tmp/bw-docker-mount.err
  say "mounted $IMG on $DATA_ROOT"
  return 0
}

if [ "${BW_DOCKER_STORAGE:-overlay2}" = vfs ]; then
  warn "BW_DOCKER_STORAGE=vfs: using the vfs storage driver (slow: each 'docker run' copies the whole image)"
  driver=vfs root=$VFS_ROOT
elif setup_overlay_storage; then
  driver=overlay2 root=$DATA_ROOT
else
  warn "falling back to the vfs storage driver on $VFS_ROOT (slow: each 'docker run' copies the whole image)"
  driver=vfs root=$VFS_ROOT
fi
mkdir -p "$root"

# --- 4. start dockerd -----------------------------------------------------------------------------------
mkdir -p "$(dirname "$LOG")"
say "starting dockerd (storage driver $driver, data root $root, log $LOG)"
{ echo; echo "=== $(date -Is) started by $0 (storage driver $driver, data root $root) ==="; } >>"$LOG"
# setsid + nohup: the daemon must outlive this script and the shell that ran it.
setsid nohup dockerd \
  --iptables=false --bridge=none \
  --exec-opt native.cgroupdriver=cgroupfs \
  --storage-driver="$driver" --data-root="$root" \
  >>"$LOG" 2>&1 </dev/null &
pid=$!
say "dockerd pid $pid; waiting up to ${WAIT}s for $SOCK"
wait_for_daemon "$pid" || die "dockerd did not come up (see $LOG)"
report
