/**
 * Randomised differential scripts for the collection types (issue 14): a seeded generator of
 * command sequences per type, a runner that plays one script against RaftKV and redis-server
 * side by side and finds the first reply that differs, and a shrinker that cuts a failing
 * script down to a minimal one that still differs there (ddmin over the commands, as
 * test/sim/shrink.ts cuts a run's steps). Seeds are splitmix32's, so a seed names a script.
 *
 *   const diff = await firstDifference(ourPort, redisPort, hashScript(seed, 200)); // or setScript, listScript
 *   if (diff) console.log(formatScript(await shrinkScript(ourPort, redisPort, script)));
 */

import { RawConn } from '../resp-node/support/resp-bytes.ts';
import { elements } from '../resp-node/support/script.ts';
import { SplitMix32 } from './splitmix32.ts';

/** One command of a script, with how its replies compare. */
export interface ScriptCommand {
  args: string[];
  /** 'exact' bytes; 'pairs': the same field-value pairs in any order; 'members': the same elements in any order; 'kind': the same reply type. */
  compare: 'exact' | 'pairs' | 'members' | 'kind';
}

export interface Difference {
  /** Index in the script of the first command whose replies differ. */
  at: number;
  command: string;
  ours: string;
  theirs: string;
}

const cmd = (compare: ScriptCommand['compare'], ...args: (string | number)[]): ScriptCommand => ({ args: args.map(String), compare });

/**
 * A hash script: a few keys (one of them a string, for WRONGTYPE), a few fields, values that
 * are numbers, floats, text or (rarely) longer than 64 bytes, which makes a hashtable.
 */
export function hashScript(seed: number, length: number): ScriptCommand[] {
  const r = new SplitMix32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[r.int(0, xs.length - 1)];
  const key = () => pick(['h1', 'h1', 'h2', 's', 'none']);
  const field = () => pick(['a', 'b', 'c', 'n', 'x', '']);
  const value = () =>
    pick([
      () => String(r.int(-50, 50)),
      () => `${r.int(-9, 9)}.${r.int(0, 99)}`,
      () => pick(['v', 'text', '9223372036854775807', '-9223372036854775808', '1e10', ' 1', '0x10', '']),
      () => 'L'.repeat(r.int(60, 70)),
    ])();
  const script: ScriptCommand[] = [cmd('exact', 'set', 's', 'string')];
  for (let i = 0; i < length; i++) {
    const k = key();
    const n = r.int(1, 3);
    switch (r.int(0, 19)) {
      case 0:
      case 1:
      case 2:
        script.push(cmd('exact', 'hset', k, ...Array.from({ length: n }, () => [field(), value()]).flat()));
        break;
      case 3:
        script.push(cmd('exact', 'hsetnx', k, field(), value()));
        break;
      case 4:
        script.push(cmd('exact', 'hdel', k, ...Array.from({ length: n }, field)));
        break;
      case 5:
        script.push(cmd('exact', 'hget', k, field()));
        break;
      case 6:
        script.push(cmd('exact', 'hmget', k, ...Array.from({ length: n }, field)));
        break;
      case 7:
        script.push(cmd('pairs', 'hgetall', k));
        break;
      case 8:
        script.push(cmd('exact', pick(['hlen', 'type', 'exists']), k));
        break;
      case 9:
        script.push(cmd('exact', pick(['hexists', 'hstrlen']), k, field()));
        break;
      case 10:
        script.push(cmd('members', pick(['hkeys', 'hvals']), k));
        break;
      case 11:
        script.push(cmd('exact', 'hincrby', k, field(), pick(['1', '-3', '100', '9223372036854775807', 'x'])));
        break;
      case 12:
        script.push(cmd('exact', 'hincrbyfloat', k, field(), pick(['1', '0.1', '-2.5', '1e3', 'inf', 'x'])));
        break;
      case 13:
        script.push(r.next() < 0.5 ? cmd('members', 'hrandfield', k, 100) : cmd('pairs', 'hrandfield', k, 100, 'withvalues'));
        break;
      case 14:
        script.push(cmd('kind', 'hrandfield', k));
        break;
      case 15:
        script.push(cmd('exact', 'object', 'encoding', k));
        break;
      case 16:
        // Not APPEND: its string is "raw" in Redis whatever its length (docs/commands.md).
        script.push(cmd('exact', pick(['get', 'strlen', 'getdel', 'incr']), k, ...(r.next() < 0.5 ? [] : ['x'])));
        break;
      case 17:
        script.push(cmd('exact', 'del', k));
        break;
      case 18:
        script.push(cmd('exact', pick(['hset', 'hdel', 'hget', 'hincrby', 'hlen']), ...Array.from({ length: r.int(0, 2) }, key)));
        break;
      default:
        script.push(cmd('exact', 'set', k, value()));
    }
  }
  return script;
}

/**
 * A set script: a few keys (one a string), members that are small integers (intsets), text
 * (hashtables) or big integers, and the commands that combine sets.
 */
export function setScript(seed: number, length: number): ScriptCommand[] {
  const r = new SplitMix32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[r.int(0, xs.length - 1)];
  const key = () => pick(['s1', 's1', 's2', 's3', 'str', 'none']);
  const member = () => pick([() => String(r.int(-3, 12)), () => pick(['a', 'b', 'c', '', '007', '-0', '9223372036854775807', '18446744073709551616'])])();
  const some = (f: () => string) => Array.from({ length: r.int(1, 4) }, f);
  const script: ScriptCommand[] = [cmd('exact', 'set', 'str', 'string')];
  for (let i = 0; i < length; i++) {
    const k = key();
    switch (r.int(0, 15)) {
      case 0:
      case 1:
      case 2:
        script.push(cmd('exact', 'sadd', k, ...some(member)));
        break;
      case 3:
        script.push(cmd('exact', 'srem', k, ...some(member)));
        break;
      case 4:
        script.push(cmd('members', 'smembers', k));
        break;
      case 5:
        script.push(cmd('exact', pick(['sismember', 'smismember']), k, ...some(member)));
        break;
      case 6:
        script.push(cmd('exact', pick(['scard', 'type', 'exists']), k));
        break;
      case 7:
        script.push(cmd('members', pick(['sinter', 'sunion', 'sdiff']), ...some(key)));
        break;
      case 8:
        script.push(cmd('exact', pick(['sinterstore', 'sunionstore', 'sdiffstore']), key(), ...some(key)));
        break;
      case 9: {
        const keys = some(key);
        script.push(cmd('exact', 'sintercard', keys.length, ...keys, ...(r.next() < 0.3 ? ['limit', r.int(0, 3)] : [])));
        break;
      }
      case 10:
        script.push(cmd('exact', 'smove', k, key(), member()));
        break;
      case 11:
        // Which members a count below the size pops is random, and the sets would part: only
        // ever pop them all.
        script.push(cmd('members', 'spop', k, 100));
        break;
      case 12:
        script.push(cmd('members', 'srandmember', k, pick([100, 0])));
        break;
      case 13:
        script.push(cmd('exact', 'object', 'encoding', k));
        break;
      case 14:
        script.push(cmd('exact', 'del', k));
        break;
      default:
        script.push(cmd('exact', pick(['get', 'hget', 'hlen']), k, ...(r.next() < 0.5 ? [] : ['x'])));
    }
  }
  return script;
}

/**
 * A list script: a few keys (one a string), elements from a small alphabet (so LREM, LPOS and
 * LINSERT find them, repeated), indexes in and out of range, both ends, counts, and the moves
 * between lists. Every reply of a list command is deterministic, so all compare exactly.
 */
export function listScript(seed: number, length: number): ScriptCommand[] {
  const r = new SplitMix32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[r.int(0, xs.length - 1)];
  const key = () => pick(['l1', 'l1', 'l2', 'l3', 'str', 'none']);
  const element = () => pick(['a', 'b', 'c', 'a', '', '007', '1', 'long'.repeat(r.int(1, 20))]);
  const index = () => pick([() => r.int(-6, 6), () => r.int(-40, 40), () => pick(['x', '9223372036854775807', '-9223372036854775808'])])();
  const end = () => pick(['left', 'right', 'LEFT', 'up']);
  const some = (f: () => string, max = 4) => Array.from({ length: r.int(1, max) }, f);
  const script: ScriptCommand[] = [cmd('exact', 'set', 'str', 'string')];
  for (let i = 0; i < length; i++) {
    const k = key();
    switch (r.int(0, 19)) {
      case 0:
      case 1:
      case 2:
        script.push(cmd('exact', pick(['lpush', 'rpush']), k, ...some(element, 8)));
        break;
      case 3:
        script.push(cmd('exact', pick(['lpushx', 'rpushx']), k, ...some(element)));
        break;
      case 4:
        script.push(cmd('exact', pick(['lpop', 'rpop']), k, ...(r.next() < 0.5 ? [] : [pick([0, 1, 2, 5, -1, 'x'])])));
        break;
      case 5:
        script.push(cmd('exact', 'lrange', k, index(), index()));
        break;
      case 6:
        script.push(cmd('exact', pick(['llen', 'type', 'exists']), k));
        break;
      case 7:
        script.push(cmd('exact', 'lindex', k, index()));
        break;
      case 8:
        script.push(cmd('exact', 'lset', k, index(), element()));
        break;
      case 9:
        script.push(cmd('exact', 'lrem', k, pick([0, 1, -1, 2, -2, 'x']), element()));
        break;
      case 10:
        script.push(cmd('exact', 'ltrim', k, index(), index()));
        break;
      case 11:
        script.push(cmd('exact', 'linsert', k, pick(['before', 'after', 'AFTER', 'x']), element(), element()));
        break;
      case 12: {
        const opts = r.next() < 0.5 ? [] : ['rank', pick([1, -1, 2, -2, 0])];
        if (r.next() < 0.5) opts.push('count', pick([0, 1, 2]));
        if (r.next() < 0.3) opts.push('maxlen', pick([0, 1, 3]));
        script.push(cmd('exact', 'lpos', k, element(), ...opts));
        break;
      }
      case 13:
        script.push(cmd('exact', 'lmove', k, key(), end(), end()));
        break;
      case 14:
        script.push(cmd('exact', 'rpoplpush', k, key()));
        break;
      case 15: {
        const keys = some(key, 3);
        script.push(cmd('exact', 'lmpop', keys.length, ...keys, end(), ...(r.next() < 0.5 ? [] : ['count', pick([1, 3, 0])])));
        break;
      }
      case 16:
        script.push(cmd('exact', 'object', 'encoding', k));
        break;
      case 17:
        script.push(cmd('exact', 'del', k));
        break;
      default:
        script.push(cmd('exact', pick(['get', 'hget', 'scard']), k, ...(r.next() < 0.5 ? [] : ['x'])));
    }
  }
  return script;
}

/** A flat [f, v, ...] reply's pairs, sorted; or the elements sorted. */
function sortedElements(reply: string, pairs: boolean): string {
  if (!/^[*%~]/.test(reply)) return reply;
  const e = elements(reply);
  const out: string[] = [];
  for (let i = 0; i < e.length; i += pairs ? 2 : 1) out.push(pairs ? e[i] + e[i + 1] : e[i]);
  return JSON.stringify(out.sort());
}

function same(compare: ScriptCommand['compare'], ours: string, theirs: string): boolean {
  switch (compare) {
    case 'exact':
      return ours === theirs;
    case 'pairs':
      return sortedElements(ours, true) === sortedElements(theirs, true);
    case 'members':
      return sortedElements(ours, false) === sortedElements(theirs, false);
    case 'kind':
      return ours[0] === theirs[0] && (ours[0] !== '-' || ours === theirs);
  }
}

/** Plays `script` on both servers from an empty keyspace; the first reply that differs, if any. */
export async function firstDifference(ourPort: number, theirPort: number, script: readonly ScriptCommand[]): Promise<Difference | null> {
  const [a, b] = await Promise.all([RawConn.open(ourPort), RawConn.open(theirPort)]);
  try {
    await Promise.all([a.call('flushall'), b.call('flushall')]);
    for (let i = 0; i < script.length; i++) {
      const { args, compare } = script[i];
      const [x, y] = (await Promise.all([a.call(...args), b.call(...args)])).map((r) => r.toString('latin1'));
      if (!same(compare, x, y)) return { at: i, command: args.join(' '), ours: x, theirs: y };
    }
    return null;
  } finally {
    a.close();
    b.close();
  }
}

/**
 * The smallest script found that still differs, on the same command: ddmin over the commands
 * before the differing one (chunks of halving size), each candidate replayed from scratch.
 */
export async function shrinkScript(ourPort: number, theirPort: number, script: readonly ScriptCommand[], maxRuns = 300): Promise<ScriptCommand[]> {
  const first = await firstDifference(ourPort, theirPort, script);
  if (first === null) return [...script];
  let best = script.slice(0, first.at + 1);
  let runs = 0;
  const stillDiffers = async (candidate: ScriptCommand[]) => {
    runs++;
    const d = await firstDifference(ourPort, theirPort, candidate);
    return d !== null && d.at === candidate.length - 1;
  };
  for (let chunk = Math.max(1, Math.floor((best.length - 1) / 2)); chunk >= 1 && runs < maxRuns; chunk = Math.floor(chunk / 2)) {
    for (let start = 0; start < best.length - 1 && runs < maxRuns; ) {
      const candidate = [...best.slice(0, start), ...best.slice(Math.min(start + chunk, best.length - 1))];
      if (await stillDiffers(candidate)) best = candidate;
      else start += chunk;
    }
  }
  return best;
}

/** A script as redis-cli lines, to paste into a report or a terminal. */
export function formatScript(script: readonly ScriptCommand[]): string {
  return script.map((c) => c.args.map((a) => (a === '' || /[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')).join('\n');
}
