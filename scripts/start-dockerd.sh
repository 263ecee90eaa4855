#!/usr/bin/env bash
# Make sure a Docker daemon answers, starting Debian's `dockerd` (package docker.io) when none
# does. Machines without systemd (CI sandboxes, containers-in-VMs) have no service manager to
# do it, so this starts the daemon in the background and waits until `docker info` works.
#
# Usage: scripts/start-dockerd.sh          exit 0 once the daemon answers
# Env:   RAFTKV_DOCKERD_FLAGS   extra dockerd flags (e.g. "--storage-driver=vfs" where overlayfs
#                               is unavailable, "--iptables=false" where iptables is missing)
#        RAFTKV_DOCKERD_LOG     daemon log file (default /tmp/raftkv-dockerd.log)
# Prints the daemon's pid on stdout when it started one, nothing when one was already running.
set -euo pipefail

log_file=${RAFTKV_DOCKERD_LOG:-/tmp/raftkv-dockerd.log}

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  echo "start-dockerd: no dockerd; install it with: apt-get update && apt-get install -y docker.io" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "start-dockerd: the daemon is not running and starting it needs root" >&2
  exit 1
fi

# A daemon killed hard leaves its pid file behind, and dockerd refuses to start over it.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi

# shellcheck disable=SC2086 # the flags are meant to split
setsid dockerd ${RAFTKV_DOCKERD_FLAGS:-} >"$log_file" 2>&1 </dev/null &
pid=$!

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "$pid"
    exit 0
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start-dockerd: dockerd exited; last lines of $log_file:" >&2
    tail -n 20 "$log_file" >&2
    exit 1
  fi
  sleep 0.5
done
echo "start-dockerd: dockerd (pid $pid) did not answer within 30 s; see $log_file" >&2
exit 1
