#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the cluster tests (Debian's slurm-wlm and munge).
#   slurm_cluster.sh up DIR     write DIR/slurm.conf, start munged, slurmctld and slurmd, wait
#                               until the node is idle; clients then need SLURM_CONF=DIR/slurm.conf
#   slurm_cluster.sh down DIR   stop each daemon this script started, by the pid it recorded
# Needs root (munged runs as the munge user, with /run/munge owned by it). No accounting, no
# cgroups: proctrack/linuxproc, task/none, select/cons_tres with CR_CPU.
set -euo pipefail
cmd=${1:?usage: slurm_cluster.sh up|down DIR}
dir=$(realpath -m "${2:?usage: slurm_cluster.sh up|down DIR}")

up() {
  mkdir -p "$dir/state" "$dir/spool"
  local cpus mem_mb
  cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc alone honours OMP_NUM_THREADS
  mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  cat >"$dir/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerParameters=defer_batch=0
MinJobAge=600
NodeName=localhost CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$dir/munged.pid"
  fi
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF" -i
  slurmd -f "$SLURM_CONF" -N localhost
  for _ in $(seq 100); do
    state=$(sinfo -h -N -o %t 2>/dev/null || true)
    [ "$state" = idle ] && { echo "SLURM_CONF=$SLURM_CONF"; return 0; }
    sleep 0.2
  done
  echo "slurm_cluster.sh: error: node not idle (state '${state:-none}'); see $dir/*.log" >&2
  down
  return 1
}

down() {
  local name pid
  for name in slurmd slurmctld munged; do
    [ -s "$dir/$name.pid" ] || continue
    pid=$(cat "$dir/$name.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/$name.pid"
  done
}

case $cmd in
  up) up ;;
  down) down ;;
  *) echo "slurm_cluster.sh: error: unknown command '$cmd' (up or down)" >&2; exit 2 ;;
esac
