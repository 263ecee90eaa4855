#!/usr/bin/env bash
# Smoke test of docker-compose.yml, as an operator would use it from the host: bring the
# cluster up, write through a follower and read from every node with `redis-cli -c` (which
# follows MOVED to the leader's advertised address), stop the leader's container, see writes
# succeed on the new leader with the old data intact, and tear everything down (volumes too).
# Then the same for the sharded variant (docker-compose.sharded.yml on top): three groups led
# from three nodes, MOVED to each group's leader, CROSSSLOT, writes to every group through a
# stopped container, which comes back and catches up.
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
files=(-f docker-compose.yml)
dc() { "${compose[@]}" -p "$project" "${files[@]}" "$@"; }
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
dc down -v --remove-orphans >/dev/null 2>&1

# ---- the sharded variant ------------------------------------------------------------------
project=raftkv-smoke-sharded-$$
files=(-f docker-compose.yml -f docker-compose.sharded.yml)
say "sharded: starting docker-compose.yml + docker-compose.sharded.yml"
dc up -d --build --quiet-pull >/dev/null 2>&1 || { dc up -d --build; fail "compose up (sharded)"; }

# Reads /v1/shards documents (argv after the mode and the node ids) and prints "group leader
# first-slot last-slot" per data group when all agree on every group's leader, one of the given
# nodes (and, with mode "hinted", the map's hint); exits 1 otherwise.
agree='
const [mode, ids, ...docs] = process.argv.slice(1);
const lists = docs.map((d) => { try { return JSON.parse(d); } catch { return null; } });
if (lists.some((l) => !l || l.epoch !== lists[0].epoch)) process.exit(1);
const out = [];
for (const g of lists[0].shards) {
  const named = new Set(lists.map((l) => l.shards.find((s) => s.id === g.id)?.leader));
  const [leader] = named;
  if (named.size !== 1 || !ids.split(" ").includes(leader) || (mode === "hinted" && leader !== g.leader_hint)) process.exit(1);
  if (g.role === "data") out.push(`${g.id} ${leader} ${g.slots[0][0]} ${g.slots[g.slots.length - 1][1]}`);
}
console.log(out.join("\n"));'

# Waits up to $1 seconds until nodes ${@:3} agree on every group's leader ($2: hinted or any).
await_shards() {
  local deadline=$(( $(date +%s) + $1 )) mode=$2; shift 2
  while [ "$(date +%s)" -lt "$deadline" ]; do
    local docs=()
    for id in "$@"; do docs+=("$(curl -fsS --max-time 2 "http://127.0.0.1:1${port[$id]}/v1/shards" 2>/dev/null || echo null)"); done
    if node -e "$agree" "$mode" "$*" "${docs[@]}"; then return 0; fi
    sleep 0.2
  done
  return 1
}

layout=$(await_shards 60 hinted n1 n2 n3) || fail "the sharded cluster's groups did not get their hinted leaders within 60 s"
[ "$(wc -l <<<"$layout")" -eq 3 ] || fail "expected 3 data groups, /v1/shards shows: $layout"
[ "$(cut -d' ' -f2 <<<"$layout" | sort -u | wc -l)" -eq 3 ] || fail "leaders not on 3 different nodes: $layout"
say "3 groups led by $(cut -d' ' -f2 <<<"$layout" | tr '\n' ' ')"

# A key of each group, by the server's own CLUSTER KEYSLOT.
declare -A key_of slot_of leader_of
while read -r group leader first last; do
  leader_of[$group]=$leader
  for i in $(seq 1 200); do
    slot=$(cli 6379 cluster keyslot "shard:$i")
    if [ "$slot" -ge "$first" ] && [ "$slot" -le "$last" ]; then key_of[$group]=shard:$i; slot_of[$group]=$slot; break; fi
  done
  [ -n "${key_of[$group]:-}" ] || fail "no key of group $group found"
done <<<"$layout"

for group in "${!key_of[@]}"; do
  key=${key_of[$group]} leader=${leader_of[$group]}
  for id in n1 n2 n3; do
    [ "$id" = "$leader" ] && continue
    moved=$(cli "${port[$id]}" set "$key" "v$group")
    [ "$moved" = "MOVED ${slot_of[$group]} ${RAFTKV_GATEWAY:-172.30.57.1}:${port[$leader]}" ] || fail "SET $key on $id answered '$moved', not MOVED to $leader, leader of group $group"
    out=$(cli "${port[$id]}" -c set "$key" "v$group")
    [ "$out" = OK ] || fail "redis-cli -c set $key through $id answered '$out'"
  done
  for id in n1 n2 n3; do [ "$(cli "${port[$id]}" -c get "$key")" = "v$group" ] || fail "$key not readable through $id"; done
done
groups=("${!key_of[@]}")
out=$(cli "${port[${leader_of[${groups[0]}]}]}" mset "${key_of[${groups[0]}]}" x "${key_of[${groups[1]}]}" y)
[ "$out" = "CROSSSLOT Keys in request don't hash to the same slot" ] || fail "MSET across groups answered '$out'"
say "MOVED named each group's leader, redis-cli -c followed it, MSET across groups: CROSSSLOT"

victim=${leader_of[${groups[0]}]}
survivors=()
for id in n1 n2 n3; do [ "$id" != "$victim" ] && survivors+=("$id"); done
dc stop "$victim" >/dev/null 2>&1
stopped_at=$(date +%s%N)
say "stopped $victim, leader of group ${groups[0]}"
for group in "${groups[@]}"; do
  written=
  for _ in $(seq 1 100); do
    out=$(cli "${port[${survivors[0]}]}" -c set "${key_of[$group]}:2" "w$group" 2>&1 || true)
    if [ "$out" = OK ]; then written=yes; break; fi
    sleep 0.1
  done
  [ -n "$written" ] || fail "no write to group $group within 10 s of stopping $victim (last answer: $out)"
done
say "wrote to every group $(( ($(date +%s%N) - stopped_at) / 1000000 )) ms after the stop"
await_shards 15 any "${survivors[@]}" >/dev/null || fail "${survivors[*]} do not agree on every group's leader"

dc start "$victim" >/dev/null 2>&1
await_shards 60 hinted n1 n2 n3 >/dev/null || fail "leaders did not return to their hints after $victim came back"
# Its own replicas (READONLY reads served locally) hold every write, those made while it was down too.
for group in "${groups[@]}"; do
  for attempt in $(seq 1 100); do
    got=$(printf 'READONLY\nGET %s\nGET %s\n' "${key_of[$group]}" "${key_of[$group]}:2" | timeout 5 redis-cli -p "${port[$victim]}" | tr '\n' ' ')
    [ "$got" = "OK v$group w$group " ] && break
    [ "$attempt" -eq 100 ] && fail "$victim did not catch up in group $group: '$got'"
    sleep 0.2
  done
done
say "$victim came back, leads its group again and holds every write of every group"
say "passed"
