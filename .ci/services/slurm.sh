#!/usr/bin/env bash
# Ensure a working single-node Slurm cluster on this machine (Debian bookworm, root): slurm-wlm + munge, the
# host as its only node, no accounting (job status through squeue). See /work/shared/docs/services-here.md.
#
#   * installs slurm-wlm and munge when missing (`apt-get update` only when the package lists lack them);
#   * writes /etc/slurm/slurm.conf for this host when it is missing or was written by this script;
#   * starts munged, slurmctld and slurmd in the background when `sinfo` does not answer, and waits until the
#     node is idle.
#
# The node carries the features `benchwright` and `cpu`, so the tests can ask for them with --constraint.
# Idempotent: with the cluster up this is a fast no-op.
#
# Environment overrides (all optional):
#   BW_SLURM_MEMORY     RealMemory of the node in MB (default: 85% of this machine's memory)
#   BW_SLURM_WAIT       seconds to wait for the node (default 60)
#   BW_SLURM_LOGDIR     daemon logs (default /var/log/slurm-benchwright)
set -euo pipefail

WAIT=${BW_SLURM_WAIT:-60}
LOGDIR=${BW_SLURM_LOGDIR:-/var/log/slurm-benchwright}
CONF=/etc/slurm/slurm.conf
MARK="# written by benchwright .ci/services/slurm.sh"

say()  { echo "slurm.sh: $*"; }
die()  { echo "slurm.sh: ERROR: $*" >&2; exit 1; }

node_idle() {
  timeout 10 sinfo -h -o '%t' 2>/dev/null | grep -Eq '^(idle|mix|alloc)'
}

if command -v sinfo >/dev/null 2>&1 && node_idle; then
  say "cluster up: $(sinfo -h -o '%P %D %t %f' | head -1)"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and starts daemons)"

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache show slurm-wlm >/dev/null 2>&1; then
    apt-get update -qq
  fi
  say "installing slurm-wlm and munge"
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

host=$(hostname -s)
cpus=$(nproc)
mem_total_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
memory=${BW_SLURM_MEMORY:-$((mem_total_mb * 85 / 100))}

if [ ! -f "$CONF" ] || grep -qF "$MARK" "$CONF"; then
  mkdir -p /etc/slurm
  cat > "$CONF" <<EOF
$MARK
ClusterName=benchwright
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
ReturnToService=2
MpiDefault=none
MinJobAge=900
KillWait=5
NodeName=$host CPUs=$cpus RealMemory=$memory Feature=benchwright,cpu State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  say "wrote $CONF (node $host: $cpus CPUs, $memory MB)"
else
  say "keeping the existing $CONF (not written by this script)"
fi

mkdir -p /var/spool/slurmctld /var/spool/slurmd "$LOGDIR" /run/munge /var/log/munge
chown munge:munge /run/munge /var/log/munge 2>/dev/null || true
[ -f /etc/munge/munge.key ] || die "no /etc/munge/munge.key (the munge package creates it)"

if ! pgrep -x munged >/dev/null; then
  say "starting munged"
  munged --force
fi
if ! pgrep -x slurmctld >/dev/null; then
  say "starting slurmctld"
  nohup slurmctld -D >>"$LOGDIR/slurmctld.out" 2>&1 &
fi
if ! pgrep -x slurmd >/dev/null; then
  say "starting slurmd"
  nohup slurmd -D >>"$LOGDIR/slurmd.out" 2>&1 &
fi

for _ in $(seq "$WAIT"); do
  if node_idle; then
    say "cluster up: $(sinfo -h -o '%P %D %t %f' | head -1)"
    exit 0
  fi
  # A node that was down when the controller last saw it comes back on its own (ReturnToService=2); one that is
  # drained from an earlier run is resumed.
  if timeout 5 sinfo -h -o '%t' 2>/dev/null | grep -Eq '^(drain|down)'; then
    scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
  fi
  sleep 1
done
die "the node did not become idle in ${WAIT}s; see $LOGDIR/slurmctld.log and $LOGDIR/slurmd.log"
