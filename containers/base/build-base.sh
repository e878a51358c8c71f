#!/usr/bin/env bash
# Build the local base image local/bookworm-python:base (Debian bookworm minbase + its python3 3.11, venv,
# pip, ca-certificates) with debootstrap from the host's Debian mirror, then `docker import` it.
# No image registry is reachable here, so this replaces `docker pull python:3.11-slim`.
#
# Idempotent: when the image exists this is a fast no-op. Needs root, debootstrap and a running Docker
# daemon (.ci/services/docker.sh provides both).
#
# Environment overrides (all optional):
#   BW_BASE_IMAGE    image reference             (default local/bookworm-python:base)
#   BW_BASE_MIRROR   Debian mirror to bootstrap from (default: read from the host's apt sources)
#   BW_BASE_REBUILD  1 = rebuild even when the image exists
#   BW_BASE_TMPDIR   where the temporary rootfs goes (default /var/tmp)
set -euo pipefail

IMAGE=${BW_BASE_IMAGE:-local/bookworm-python:base}
SUITE=bookworm
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
FALLBACK_MIRROR=http://deb.debian.org/debian
LOCK=/var/lock/benchwright-base-image.lock

say()  { echo "build-base.sh: $*"; }
warn() { echo "build-base.sh: WARNING: $*" >&2; }
die()  { echo "build-base.sh: ERROR: $*" >&2; exit 1; }

image_exists() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

command -v docker >/dev/null 2>&1 || die "docker CLI not found; run .ci/services/docker.sh first"
timeout 10 docker info >/dev/null 2>&1 \
  || die "the Docker daemon does not answer on /var/run/docker.sock; run .ci/services/docker.sh first"

if [ "${BW_BASE_REBUILD:-0}" != 1 ] && image_exists; then
  say "$IMAGE already exists ($(docker image inspect --format '{{.Id}}' "$IMAGE" | cut -c1-19)); nothing to do"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap)"
command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found; run .ci/services/docker.sh (installs it)"

# One build at a time; re-check once we hold the lock (another run may just have built it).
exec 9>"$LOCK"
if ! flock -n 9; then
  say "another build of $IMAGE is running; waiting for it"
  flock 9
fi
if [ "${BW_BASE_REBUILD:-0}" != 1 ] && image_exists; then
  say "$IMAGE was built meanwhile; nothing to do"
  exit 0
fi

# --- mirror from the host's apt sources -----------------------------------------------------------------
# Prints the first URI that serves suite $SUITE (exactly; not -updates/-security) for binary packages,
# from one-line files (sources.list, *.list) and deb822 files (*.sources).
mirror_from_oneline() { # file...
  awk -v suite="$SUITE" '
    { sub(/#.*/, "") }
    $1 != "deb" { next }
    {
      i = 2
      if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }   # skip [ options ]
      uri = $i; s = $(i + 1)
      if (s == suite && uri ~ /^(https?|file):/) { print uri; exit }
    }' "$@" 2>/dev/null
}
mirror_from_deb822() { # file...
  awk -v suite="$SUITE" '
    function flush() {
      if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") {
        n = split(suites, ss, /[ \t]+/)
        for (k = 1; k <= n; k++) if (ss[k] == suite) {
          m = split(uris, us, /[ \t]+/)
          for (j = 1; j <= m; j++) if (us[j] ~ /^(https?|file):/) { print us[j]; found = 1; exit }
        }
      }
      types = suites = uris = enabled = ""; last = ""
    }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ { # continuation line of the previous field
      if (last == "types") types = types " " $0
      else if (last == "suites") suites = suites " " $0
      else if (last == "uris") uris = uris " " $0
      next
    }
    {
      field = tolower($0); sub(/:.*/, "", field)
      value = $0; sub(/^[^:]*:[ \t]*/, "", value)
      last = field
      if (field == "types") types = value
      else if (field == "suites") suites = value
      else if (field == "uris") uris = value
      else if (field == "enabled") enabled = value
    }
    END { if (!found) flush() }' "$@" 2>/dev/null
}
find_mirror() {
  local m="" f
  if [ -r /etc/apt/sources.list ]; then m=$(mirror_from_oneline /etc/apt/sources.list); fi
  if [ -z "$m" ]; then
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -r "$f" ] || continue
      m=$(mirror_from_deb822 "$f"); [ -n "$m" ] && break
    done
  fi
  if [ -z "$m" ]; then
    for f in /etc/apt/sources.list.d/*.list; do
      [ -r "$f" ] || continue
      m=$(mirror_from_oneline "$f"); [ -n "$m" ] && break
    done
  fi
  echo "${m%/}"
}

if [ -n "${BW_BASE_MIRROR:-}" ]; then
  MIRROR=$BW_BASE_MIRROR
  say "mirror from BW_BASE_MIRROR: $MIRROR"
else
  MIRROR=$(find_mirror)
  if [ -n "$MIRROR" ]; then
    say "mirror from the host's apt sources: $MIRROR"
  else
    MIRROR=$FALLBACK_MIRROR
    warn "no $SUITE source found in /etc/apt/sources.list{,.d/*.list,.d/*.sources}; using $MIRROR"
  fi
fi

# --- debootstrap ------------------------------------------------------------------------------------------
TMP_PARENT=${BW_BASE_TMPDIR:-/var/tmp}
WORK=$(mktemp -d "$TMP_PARENT/bw-base-rootfs.XXXXXX")
ROOTFS=$WORK/rootfs

cleanup() {
  local mnt
  # debootstrap mounts proc/sys (and may leave them on failure): unmount everything below ROOTFS,
  # deepest first, and never delete across a mount point.
  if [ -d "$ROOTFS" ]; then
    while read -r mnt; do
      umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
    done < <(awk -v r="$ROOTFS" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r)
    if awk -v r="$ROOTFS" '$2 == r || index($2, r "/") == 1 {f = 1} END {exit !f}' /proc/mounts; then
      warn "mounts remain under $ROOTFS; not deleting it"
      return
    fi
  fi
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

say "debootstrap --variant=minbase $SUITE ($PACKAGES) into $ROOTFS (takes about a minute)"
start=$(date +%s)
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
    >"$WORK/debootstrap.log" 2>&1; then
  echo "build-base.sh: debootstrap failed; last lines of its log:" >&2
  tail -n 30 "$WORK/debootstrap.log" >&2 || true
  [ -r "$ROOTFS/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOTFS/debootstrap/debootstrap.log" >&2
  die "debootstrap from $MIRROR failed"
fi
say "debootstrap done in $(($(date +%s) - start)) s"

# Slim the image: downloaded .debs and package lists are not needed (no network in containers anyway).
rm -f "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/tmp/* "$ROOTFS"/var/log/*.log
find "$ROOTFS/usr/lib/python3" -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

py=$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || py=""
[ "$py" = 3.11 ] || die "python3 in the rootfs is '${py:-missing}', expected bookworm's 3.11"

# --- import ---------------------------------------------------------------------------------------------
say "importing the rootfs as $IMAGE"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --change "LABEL org.opencontainers.image.title=bookworm-python org.opencontainers.image.description=\"Debian $SUITE minbase + python3 (debootstrap from $MIRROR), built by containers/base/build-base.sh\"" \
  --message "debootstrap --variant=minbase --include=$PACKAGES $SUITE from $MIRROR" \
  - "$IMAGE" >/dev/null || die "docker import failed"

# Check the image really runs bookworm's python 3.11.
got=$(docker run --rm --network none "$IMAGE" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') \
  || die "the new image $IMAGE does not run python3"
if [ "$got" != 3.11 ]; then
  docker image rm "$IMAGE" >/dev/null 2>&1 || true
  die "python3 in $IMAGE is $got, expected 3.11; image removed"
fi
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE (python $got, $((size / 1024 / 1024)) MB) in $(($(date +%s) - start)) s"
