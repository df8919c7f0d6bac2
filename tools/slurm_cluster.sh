#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for recipes run with --cmd slurm and for tests.
#
# Usage: tools/slurm_cluster.sh start|stop|status
#
#   start   install Debian's slurm-wlm and munge when missing (apt-get, needs root), create a munge
#           key when absent, start munged, write /etc/slurm/slurm.conf for one node (this host,
#           all its CPUs and memory, one default partition "debug", no accounting database),
#           start slurmctld and slurmd, and wait until sinfo shows the node idle. Idempotent: with
#           everything up it only checks that sbatch answers (a fraction of a second).
#   stop    stop the daemons this script started (pid files under the run dir named in slurm.conf).
#   status  exit 0 when sbatch can reach a controller; print sinfo.
#
# Runtime state (configuration copy, daemon logs, pid files, spool and state dirs) lives in
# $SPEECHPROC_SLURM_RUN (default tools/slurm/run/, git-ignored). A /etc/slurm/slurm.conf that
# this script did not write (a site's real cluster) is never touched: start then only checks it.
#
# Exit status: 0 ok, 1 usage, 2 not root, 3 packages missing and apt-get unavailable or failing,
# 4 daemons did not start (their log tails are printed), 5 a foreign slurm.conf that does not work.
set -uo pipefail

prog=$(basename "$0")
tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
run_dir=${SPEECHPROC_SLURM_RUN:-$tools_dir/slurm/run}
conf=/etc/slurm/slurm.conf
marker="# written by speechproc tools/slurm_cluster.sh"
partition=debug

say() { echo "$prog: $*"; }
die() { local code=$1; shift; echo "$prog: error: $*" >&2; exit "$code"; }

tail_logs() {
  # Default: the Slurm daemons' logs; pass other files to show those instead.
  local f
  [ $# -gt 0 ] || set -- "$run_dir/log/slurmctld.log" "$run_dir/log/slurmd.log"
  for f in "$@"; do
    if [ -s "$f" ]; then
      echo "---- last lines of $f ----" >&2
      tail -n 15 "$f" >&2
    fi
  done
}

ours() { [ -f "$conf" ] && grep -qF "$marker" "$conf"; }

sbatch_ok() {
  # A dry run through the controller: validates the request without submitting a job.
  command -v sbatch >/dev/null 2>&1 || return 1
  timeout 20 sbatch --test-only --wrap true >/dev/null 2>&1
}

node_state() { timeout 5 sinfo -h -N -o '%T' 2>/dev/null | head -n 1; }

cluster_up() {
  # Fast path: with our configuration the local daemons must run; a foreign one is asked directly.
  if ours; then
    pgrep -x munged >/dev/null && pgrep -x slurmctld >/dev/null && pgrep -x slurmd >/dev/null || return 1
  fi
  sbatch_ok
}

need_root() {
  [ "$(id -u)" -eq 0 ] || die 2 "'$1' needs root (it installs packages, writes $conf and starts daemons); run it as root, e.g. sudo $0 $1"
}

install_packages() {
  local missing=()
  command -v munged >/dev/null 2>&1 && command -v munge >/dev/null 2>&1 || missing+=(munge)
  for b in slurmctld slurmd sbatch sinfo squeue scancel; do
    command -v "$b" >/dev/null 2>&1 || { missing+=(slurm-wlm); break; }
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 \
    || die 3 "missing ${missing[*]} and no apt-get on this machine; install Slurm and munge with the system's package manager"
  say "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=120) log="$run_dir/log/apt.log" policy=/usr/sbin/policy-rc.d rc=0
  "${apt[@]}" update -qq >"$log" 2>&1 \
    || { tail -n 20 "$log" >&2; die 3 "apt-get update failed (log: $log)"; }
  # Keep the packages' maintainer scripts from starting daemons with a default configuration.
  local own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && own_policy=1
  fi
  "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || rc=$?
  [ "$own_policy" -eq 1 ] && rm -f "$policy"
  [ "$rc" -eq 0 ] || { tail -n 20 "$log" >&2; die 3 "apt-get install ${missing[*]} failed (log: $log)"; }
  hash -r
}

start_munge() {
  local key=/etc/munge/munge.key user=root
  id munge >/dev/null 2>&1 && user=munge
  mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
  if [ ! -s "$key" ]; then
    say "creating munge key $key"
    if command -v mungekey >/dev/null 2>&1; then
      mungekey --create --keyfile="$key" --force
    else
      dd if=/dev/urandom bs=1 count=1024 of="$key" 2>/dev/null
    fi
  fi
  chown -R "$user:" /etc/munge /var/lib/munge /var/log/munge /run/munge
  chmod 0700 /etc/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  chmod 0400 "$key"
  if pgrep -x munged >/dev/null && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0
  fi
  say "starting munged"
  # A dead munged can leave its socket and pid file behind; munged refuses to start over them.
  rm -f /run/munge/munge.socket.2 /run/munge/munge.socket.2.lock /run/munge/munged.pid
  # munged logs to /var/log/munge/munged.log and writes /run/munge/munged.pid.
  if [ "$user" = root ]; then
    munged --force
  else
    runuser -u munge -- munged
  fi
  for _ in $(seq 50); do
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
      cp /run/munge/munged.pid "$run_dir/munged.pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  tail_logs /var/log/munge/munged.log
  die 4 "munged did not start (munge -n | unmunge fails)"
}

node_line() {
  # The hardware as slurmd sees it, so slurmd registers without a mismatch; fall back to nproc/meminfo.
  local line
  line=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -n 1)
  if [ -z "$line" ]; then
    local mem_mb
    mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
    line="NodeName=$(hostname -s) CPUs=$(nproc) RealMemory=$mem_mb"
  fi
  echo "$line"
}

write_conf() {
  local node mem cpus defmem host
  node=$(node_line)
  host=$(echo "$node" | sed -n 's/^NodeName=\([^ ]*\).*/\1/p')
  cpus=$(echo "$node" | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
  mem=$(echo "$node" | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  # Leave ~5% for the system so slurmd never registers with less memory than configured.
  mem=$((mem * 95 / 100))
  # shellcheck disable=SC2001  # a digit run, which ${var//} globs cannot express
  node=$(echo "$node" | sed "s/RealMemory=[0-9]*/RealMemory=$mem/")
  # Without a default, a job that does not ask for memory gets the whole node, and jobs serialise.
  defmem=$((mem / cpus))
  [ "$defmem" -gt 2048 ] && defmem=2048
  mkdir -p "$(dirname "$conf")" "$run_dir/state/ctld" "$run_dir/state/d"
  cat >"$run_dir/slurm.conf" <<EOF
$marker; run '$tools_dir/slurm_cluster.sh stop' and delete this file to drop it.
ClusterName=speechproc
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
# Schedule as soon as a job is submitted or ends (the default waits up to 3 s between array tasks).
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=$defmem
ReturnToService=2
KillWait=5
MinJobAge=300
MaxArraySize=10001
MaxJobCount=100000
StateSaveLocation=$run_dir/state/ctld
SlurmdSpoolDir=$run_dir/state/d
SlurmctldPidFile=$run_dir/slurmctld.pid
SlurmdPidFile=$run_dir/slurmd.pid
SlurmctldLogFile=$run_dir/log/slurmctld.log
SlurmdLogFile=$run_dir/log/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=$partition Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  cp "$run_dir/slurm.conf" "$conf"
}

alive_or_die() {
  local d
  for d in "$@"; do
    pgrep -x "$d" >/dev/null || { tail_logs; die 4 "$d exited right after it started (its log is above)"; }
  done
}

wait_idle() {
  # Slurm clients retry for ~9 s against a controller that is not listening yet: wait for its port first.
  local state="" deadline=$((SECONDS + 30))
  until (exec 3<>/dev/tcp/127.0.0.1/6817) 2>/dev/null; do
    alive_or_die slurmctld
    [ $SECONDS -lt $deadline ] || { tail_logs; die 4 "slurmctld does not listen on port 6817 after 30 s"; }
    sleep 0.1
  done
  while [ $SECONDS -lt $deadline ]; do
    alive_or_die slurmctld slurmd
    state=$(node_state)
    case "$state" in
      idle|mixed|allocated|completing) return 0 ;;
      down*|drain*|fail*)
        # A node left down by an earlier unclean stop: bring it back.
        scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 ;;
    esac
    sleep 0.25
  done
  tail_logs
  die 4 "the node did not become idle within 30 s (sinfo says '${state:-nothing}')"
}

cmd_start() {
  local t0=$SECONDS
  if cluster_up; then
    say "Slurm is up: $(node_state) node, partition $(sinfo -h -o '%P' 2>/dev/null | head -n 1)"
    return 0
  fi
  if [ -f "$conf" ] && ! ours; then
    die 5 "$conf was not written by this script (a site configuration) and sbatch cannot reach its controller; fix that cluster, or move $conf away to let this script manage a local one"
  fi
  need_root start
  mkdir -p "$run_dir/log"
  install_packages
  start_munge
  # A running slurmctld keeps the configuration it started with; slurmd must read the same one.
  if ! pgrep -x slurmctld >/dev/null || [ ! -f "$conf" ]; then
    write_conf
  fi
  if ! pgrep -x slurmctld >/dev/null; then
    say "starting slurmctld"
    slurmctld -f "$conf" || { tail_logs; die 4 "slurmctld failed to start"; }
  fi
  if ! pgrep -x slurmd >/dev/null; then
    say "starting slurmd"
    slurmd -f "$conf" || { tail_logs; die 4 "slurmd failed to start"; }
  fi
  wait_idle
  for _ in $(seq 20); do
    sbatch_ok && break
    sleep 0.25
  done
  sbatch_ok || { tail_logs; die 4 "daemons run but 'sbatch --test-only --wrap true' fails"; }
  say "Slurm is up after $((SECONDS - t0)) s: node $(hostname -s) $(node_state), partition $partition (logs: $run_dir/log)"
}

stop_pid() {
  local name=$1 pidfile=$2 pid
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(ps -o comm= -p "$pid")" = "$name" ]; then
    say "stopping $name (pid $pid)"
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$pidfile"
}

cmd_stop() {
  if [ -f "$conf" ] && ! ours; then
    die 5 "$conf belongs to a site cluster, not to this script; refusing to stop it"
  fi
  need_root stop
  # The daemons may have been started from another checkout: use the run dir the configuration names.
  local dir=$run_dir pidfile
  pidfile=$( [ -f "$conf" ] && sed -n 's/^SlurmctldPidFile=//p' "$conf")
  [ -n "$pidfile" ] && dir=$(dirname "$pidfile")
  stop_pid slurmd "$dir/slurmd.pid"
  stop_pid slurmctld "$dir/slurmctld.pid"
  stop_pid munged "$dir/munged.pid"
  say "stopped"
}

cmd_status() {
  if cluster_up; then
    sinfo 2>/dev/null
    return 0
  fi
  local d
  for d in munged slurmctld slurmd; do
    pgrep -x "$d" >/dev/null && echo "$prog: $d running" >&2 || echo "$prog: $d not running" >&2
  done
  echo "$prog: sbatch cannot reach a Slurm controller; run '$0 start'" >&2
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 1 ;;
esac
