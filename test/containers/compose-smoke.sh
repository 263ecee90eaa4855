#!/usr/bin/env bash
# Smoke test of docker-compose.yml, as an operator would use it from the host: bring the
# cluster up, write through a follower and read from every node with `redis-cli -c` (which
# follows MOVED to the leader's advertised address), stop the leader's container, see writes
# succeed on the new leader with the old data intact, and tear everything down (volumes too).
#
# Usage: test/containers/compose-smoke.sh        (npm run test:compose)
# Needs: a Docker daemon (scripts/start-dockerd.sh), `docker compose` or `docker-compose`,
#        redis-cli, curl, and host ports 6379-6381 and 16379-16381 free on 127.0.0.1.
# Env:   RAFTKV_NODE_IMAGE  base image (default: what scripts/offline-base-image.sh answers)
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - started) / 1000000 )) ms"; }
say() { printf 'compose-smoke [%s]: %s\n' "$(elapsed)" "$*"; }
fail() { printf 'compose-smoke FAILED: %s\n' "$*" >&2; exit 1; }

if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
command -v "${compose[0]}" >/dev/null || fail "neither 'docker compose' nor 'docker-compose' is installed"
command -v redis-cli >/dev/null || fail "redis-cli is not installed (apt-get install redis-tools)"
docker info >/dev/null 2>&1 || fail "no Docker daemon answers (scripts/start-dockerd.sh starts one)"
for port in 6379 6380 6381 16379 16380 16381; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then fail "127.0.0.1:$port is in use"; fi
done

export RAFTKV_NODE_IMAGE=${RAFTKV_NODE_IMAGE:-$(scripts/offline-base-image.sh)}
project=raftkv-smoke-$$
dc() { "${compose[@]}" -p "$project" -f docker-compose.yml "$@"; }
cleanup() {
  status=$?
  if [ "$status" -ne 0 ]; then dc logs --no-color --tail 40 >&2 || true; fi
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  exit "$status"
}
trap cleanup EXIT

declare -A port=([n1]=6379 [n2]=6380 [n3]=6381)
cli() { timeout 5 redis-cli -p "$1" "${@:2}"; }

# The leader as node $1 (an id) sees it, or nothing.
leader_seen_by() {
  curl -fsS --max-time 2 "http://127.0.0.1:1${port[$1]}/v1/cluster" 2>/dev/null |
    grep -o '"leader":"n[0-9]"' | head -n 1 | cut -d'"' -f4 || true
}

# Waits up to $1 seconds until nodes ${@:2} agree on one leader, and prints it.
await_leader() {
  local deadline=$(( $(date +%s) + $1 )); shift
  while [ "$(date +%s)" -lt "$deadline" ]; do
    local leaders=()
    for id in "$@"; do leaders+=("$(leader_seen_by "$id")"); done
    if [ -n "${leaders[0]}" ] && [ "$(printf '%s\n' "${leaders[@]}" | sort -u | wc -l)" -eq 1 ]; then
      echo "${leaders[0]}"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

say "building and starting the cluster with ${compose[*]} (base image $RAFTKV_NODE_IMAGE)"
dc up -d --build --quiet-pull >/dev/null 2>&1 || { dc up -d --build; fail "compose up"; }
leader=$(await_leader 60 n1 n2 n3) || fail "no leader within 60 s"
say "leader is $leader"

follower=
for id in n1 n2 n3; do [ "$id" != "$leader" ] && { follower=$id; break; }; done
moved=$(cli "${port[$follower]}" set smoke:1 one)
[[ $moved == MOVED*":${port[$leader]}" ]] || fail "a write on follower $follower answered '$moved', not MOVED to the leader"
out=$(cli "${port[$follower]}" -c set smoke:1 one)
[ "$out" = OK ] || fail "redis-cli -c set through $follower answered '$out'"
for id in n1 n2 n3; do
  out=$(cli "${port[$id]}" -c get smoke:1)
  [ "$out" = one ] || fail "redis-cli -c get on $id answered '$out'"
done
say "wrote through $follower (MOVED followed to $leader) and read the value back from every node"

survivors=()
for id in n1 n2 n3; do [ "$id" != "$leader" ] && survivors+=("$id"); done
dc stop "$leader" >/dev/null 2>&1
stopped_at=$(date +%s%N)
say "stopped the leader's container ($leader)"

written=
for _ in $(seq 1 100); do
  out=$(cli "${port[${survivors[0]}]}" -c set smoke:2 two 2>&1 || true)
  if [ "$out" = OK ]; then written=yes; break; fi
  sleep 0.1
done
[ -n "$written" ] || fail "no write succeeded within 10 s of stopping the leader (last answer: $out)"
say "a write succeeded $(( ($(date +%s%N) - stopped_at) / 1000000 )) ms after the leader stopped"
next=$(await_leader 10 "${survivors[@]}") || fail "the survivors do not agree on a leader"
[ "$next" != "$leader" ] || fail "the stopped node $leader is still named leader"
for id in "${survivors[@]}"; do
  [ "$(cli "${port[$id]}" -c get smoke:1)" = one ] || fail "smoke:1 lost on $id"
  [ "$(cli "${port[$id]}" -c get smoke:2)" = two ] || fail "smoke:2 missing on $id"
done
say "new leader $next; both writes readable from ${survivors[*]}"
say "passed"
