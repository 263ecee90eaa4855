/**
 * The command mixes resp-load.ts can run (issue 15 target 7): each client replays a fixed
 * cycle of pre-encoded commands, so two mixes differ only in what they send, never in the
 * generator's work per request.
 *
 * - `set`: SET only (the replicated-write load of the main bench).
 * - `cache`: a rough cache mix, GET 80 %, SET 15 %, HSET 2.5 %, HGETALL 2.5 %.
 * - `strings`: the same GET 80 % and SET 15 %, with the hash commands' 5 % as their string
 *   twins (SET for HSET, GET for HGETALL). Reads and writes keep the same shares as in
 *   `cache`, so CPU per op of `cache` over `strings` is what the hash commands cost on top of
 *   strings, plus anything their presence costs the string path.
 *
 * The cycle is 40 commands (32 GET, 6 SET, 1 HSET, 1 HGETALL), interleaved so any window of
 * the run sees the same shares. Keys are per client (`bench:<c>:<k>`, hashes `bench:<c>:h<j>`
 * with HASH_FIELDS fields), preloaded by `preload` so GETs and HGETALLs find values.
 */
import { encodeCommand } from './resp-client.ts';

export const MIXES = ['set', 'cache', 'strings'] as const;
export type Mix = (typeof MIXES)[number];

export class UnknownMixError extends Error {
  constructor(mix: string) {
    super(`unknown --mix ${mix}: expected one of ${MIXES.join(', ')}`);
  }
}

export function parseMix(s: string): Mix {
  if (!(MIXES as readonly string[]).includes(s)) throw new UnknownMixError(s);
  return s as Mix;
}

/** Keys per client, as the SET load has always used. */
export const KEYS = 1000;
/** Hashes per client and fields per hash: small, session-like hashes (listpack-sized in Redis). */
export const HASHES = 16;
export const HASH_FIELDS = 8;

type Op = 'get' | 'set' | 'hset' | 'hgetall';
/** One cycle of the cache mix, in send order: the hash commands sit at positions 13 and 33. */
const CYCLE: Op[] = Array.from({ length: 40 }, (_, i) => {
  if (i === 13) return 'hset';
  if (i === 33) return 'hgetall';
  // Every 20 commands: 3 SETs (positions 0, 7, 14 of each half), the rest GETs.
  return i % 20 === 0 || i % 20 === 7 || i % 20 === 14 ? 'set' : 'get';
});

/** The command kinds of one cycle of `mix` (for the tests and the header's shares). */
export function cycleOf(mix: Mix): Op[] {
  if (mix === 'set') return ['set'];
  if (mix === 'strings') return CYCLE.map((op) => (op === 'hset' ? 'set' : op === 'hgetall' ? 'get' : op));
  return CYCLE;
}

/**
 * Client `c`'s pre-encoded commands, KEYS of them (a whole number of cycles): a pass walks
 * every key once and every hash field. `value` is what SET and HSET write.
 */
export function commandsFor(mix: Mix, c: number, value: Buffer): Buffer[] {
  const cycle = cycleOf(mix);
  const out: Buffer[] = [];
  for (let i = 0; i < KEYS; i++) {
    const key = `bench:${c}:${i}`;
    const op = cycle[i % cycle.length]!;
    const pass = Math.floor(i / cycle.length);
    const h = `bench:${c}:h${pass % HASHES}`;
    if (op === 'set') out.push(encodeCommand(['SET', key, value]));
    else if (op === 'get') out.push(encodeCommand(['GET', key]));
    else if (op === 'hset') out.push(encodeCommand(['HSET', h, `f${pass % HASH_FIELDS}`, value]));
    else out.push(encodeCommand(['HGETALL', h]));
  }
  return out;
}

/** Commands that give client `c`'s keys and hashes their values before the run (not measured). */
export function preload(mix: Mix, c: number, value: Buffer): Buffer[] {
  if (mix === 'set') return [];
  const mset: (string | Buffer)[] = ['MSET'];
  for (let k = 0; k < KEYS; k++) mset.push(`bench:${c}:${k}`, value);
  const out = [encodeCommand(mset)];
  if (mix === 'cache') {
    for (let j = 0; j < HASHES; j++) {
      const args: (string | Buffer)[] = ['HSET', `bench:${c}:h${j}`];
      for (let f = 0; f < HASH_FIELDS; f++) args.push(`f${f}`, value);
      out.push(encodeCommand(args));
    }
  }
  return out;
}
