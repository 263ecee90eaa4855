/**
 * RESP inputs: requests built from the command table (names, arities, subcommands and the
 * argument shapes of Redis's COMMAND DOCS in src/resp/commands/data/), then mutated with
 * RESP-aware mutators (lengths off by a lot, huge multibulk counts, negative lengths, inline
 * commands, nested and foreign types, repeats, big values) and the byte mutators of mutate.ts.
 *
 * A session is what one connection sends: a few to a few hundred frames, sometimes inside
 * MULTI, cut into writes at random points; some sessions never read their replies.
 */

import type { ArgSpec, CommandSpec } from '../../src/resp/commands/spec.ts';
import { COMMAND_LIST } from '../../src/resp/commands/table.ts';
import { INTERESTING_NUMBERS, mutateBytes, splitWrites } from './mutate.ts';
import { restorePayload } from './payloads.ts';
import type { Rng } from './rng.ts';

/** What one connection sends; `frames` is how many iterations it counts for. */
export interface StreamSession {
  first: number;
  frames: number;
  writes: Buffer[];
  /** false: the client never reads, so every reply stays owed. */
  reads: boolean;
  /** How the client leaves: wait for the server to go quiet, half-close, or reset. */
  end: 'wait' | 'fin' | 'reset';
  /** A client that never reads keeps its connection open this long. */
  holdMs: number;
}

/** Commands left out unless named in `--include`: they change what a well-behaved client may do. */
export const DEFAULT_EXCLUDED = ['config|set'];

const CRLF = Buffer.from('\r\n');

/** A repeated request stops at this many bytes (the replies it asks for may be far larger). */
const MAX_REPEAT_BYTES = 8 << 20;

export function encodeCommand(argv: readonly (Buffer | string)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)];
  for (const a of argv) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, CRLF);
  }
  return Buffer.concat(parts);
}

/** Keys come from a small pool so reads meet earlier writes (and their big values). */
function key(rng: Rng): Buffer {
  if (rng.chance(0.9)) return Buffer.from(`fz:${rng.int(0, 31)}`);
  return rng.pick([() => Buffer.alloc(0), () => rng.bytes(rng.skewed(64)), () => Buffer.alloc(1 + rng.skewed(100_000), 'k')])();
}

function stringValue(rng: Rng): Buffer {
  const r = rng.next();
  if (r < 0.6) return Buffer.from(rng.bytes(rng.skewed(32)).toString('base64'));
  if (r < 0.8) return rng.bytes(rng.skewed(256));
  if (r < 0.95) return Buffer.from(rng.pick(INTERESTING_NUMBERS));
  // Big values: what pipelined reads of them cost a server is the point.
  return Buffer.alloc(1 + rng.skewed(1 << 20), rng.int(0x61, 0x7a));
}

const DOUBLES = ['1.5', '-0', '0', 'inf', '-inf', '+inf', 'nan', '1e308', '1e309', '-1e-320', '3.0e-5', '0x10', '1.', '.5', '5e'];
const PATTERNS = ['*', 'fz:*', '?', '[a-', '[^]', '\\', 'fz:[0-9]*', '*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?x', 'h[^e]llo'];

function argValue(rng: Rng, a: ArgSpec, out: Buffer[]): void {
  switch (a.type) {
    case 'key':
      out.push(key(rng));
      return;
    case 'string':
      out.push(stringValue(rng));
      return;
    case 'integer':
      out.push(Buffer.from(rng.chance(0.6) ? String(rng.int(-10, 100_000)) : rng.pick(INTERESTING_NUMBERS)));
      return;
    case 'unix-time':
      out.push(Buffer.from(rng.chance(0.6) ? String(1_700_000_000 + rng.int(0, 1e8)) : rng.pick(INTERESTING_NUMBERS)));
      return;
    case 'double':
      out.push(Buffer.from(rng.chance(0.5) ? String(rng.int(-1000, 1000) / 7) : rng.pick(DOUBLES)));
      return;
    case 'pattern':
      out.push(Buffer.from(rng.pick(PATTERNS)));
      return;
    case 'pure-token':
      return;
    case 'oneof':
      if (a.arguments?.length) emitArg(rng, rng.pick(a.arguments), out);
      return;
    case 'block':
      for (const sub of a.arguments ?? []) emitArg(rng, sub, out);
      return;
  }
}

/** One argument as COMMAND DOCS describes it: optional, repeated, behind its token. */
function emitArg(rng: Rng, a: ArgSpec, out: Buffer[]): void {
  const flags = a.flags ?? [];
  if (flags.includes('optional') && rng.chance(0.5)) return;
  const times = flags.includes('multiple') ? 1 + rng.skewed(8) : 1;
  for (let i = 0; i < times; i++) {
    if (a.token && (i === 0 || flags.includes('multiple_token'))) out.push(Buffer.from(rng.chance(0.5) ? a.token : a.token.toLowerCase()));
    argValue(rng, a, out);
  }
}

export class RespCommands {
  /** Leaf commands (subcommands resolved) that may be generated. */
  readonly specs: readonly CommandSpec[];

  constructor(excluded: readonly string[] = DEFAULT_EXCLUDED) {
    const leaves = COMMAND_LIST.flatMap((c) => (c.subcommandList.length > 0 ? c.subcommandList : [c]));
    this.specs = leaves.filter((s) => !excluded.includes(s.name));
  }

  /** A request of a valid shape for a command of the table. */
  valid(rng: Rng): Buffer[] {
    const spec = rng.pick(this.specs);
    const argv: Buffer[] = spec.name.split('|').map((n) => Buffer.from(rng.chance(0.8) ? n : n.toUpperCase()));
    const docArgs = spec.docs.arguments;
    if (docArgs) for (const a of docArgs) emitArg(rng, a, argv);
    else {
      // No documented shape: as many strings as the arity asks for.
      const want = spec.arity > 0 ? spec.arity : -spec.arity + rng.skewed(3);
      while (argv.length < want) argv.push(stringValue(rng));
    }
    // RESTORE gets a real payload, corrupted or not: a random string only meets the checksum.
    if (spec.name === 'restore' && argv.length > 3) argv[3] = restorePayload(rng);
    return argv;
  }
}

type FrameMutator = (rng: Rng, argv: Buffer[], cmds: RespCommands) => Buffer;

/** RESP-aware mutators: each gets a valid request and returns the bytes to send instead. */
/** Padding bound of one `hugeCount` frame: past the node's 512 MiB bulk limit is not needed to show a count is not trusted. */
const HUGE_COUNT_BYTES = 8 * 1024 * 1024;

export const RESP_MUTATORS: Readonly<Record<string, FrameMutator>> = {
  lengthOff(rng, argv) {
    const frame = encodeCommand(argv).toString('latin1');
    const lens = [...frame.matchAll(/\$(\d+)\r\n/g)];
    if (lens.length === 0) return Buffer.from(frame, 'latin1');
    const m = rng.pick(lens);
    const n = Number(m[1]);
    const off = rng.pick([n + 1, n - 1, n + rng.int(2, 100_000), Math.max(0, n - rng.int(2, 1000)), 512 * 1024 * 1024, 2 ** 31, 2 ** 32 + n]);
    return Buffer.from(`${frame.slice(0, m.index)}$${off}\r\n${frame.slice(m.index + m[0].length)}`, 'latin1');
  },
  hugeCount(rng, argv) {
    // A multibulk header announcing far more arguments than follow, then a stream of them.
    const count = rng.pick(['2147483647', '1048576', '4294967295', '9223372036854775807', '1000000', String(argv.length + rng.skewed(1 << 20))]);
    const elem = rng.chance(0.5) ? Buffer.from('$0\r\n\r\n') : encodeCommand([argv[argv.length - 1]]).subarray(4);
    // At most HUGE_COUNT_BYTES of padding: with a large last argument, a million copies of it
    // would be gigabytes of fuzzer memory (seed 5 asked for 9.3 GB once the table grew).
    const pad = Math.min(rng.chance(0.05) ? rng.skewed(1 << 20) : rng.skewed(1024), Math.floor(HUGE_COUNT_BYTES / elem.length));
    return Buffer.concat([Buffer.from(`*${count}\r\n`), encodeCommand(argv).subarray(String(argv.length).length + 3), ...new Array(pad).fill(elem)]);
  },
  negativeLength(rng, argv) {
    const frame = encodeCommand(argv).toString('latin1');
    const neg = rng.pick(['-1', '-2', '-2147483648', '-0', '-99999999999']);
    if (rng.chance(0.4)) return Buffer.from(`*${neg}\r\n${frame.slice(frame.indexOf('\r\n') + 2)}`, 'latin1');
    return Buffer.from(frame.replace(/\$\d+\r\n/, `$${neg}\r\n`), 'latin1');
  },
  inline(rng, argv) {
    // The inline protocol: space-separated words, quotes and escapes, sometimes no newline.
    const words = argv.map((a) => {
      const s = a.toString('latin1').slice(0, 4096);
      return rng.pick([s, `"${s}"`, `'${s}`, `"${s}\\x4`, `"\\x${s.slice(0, 2)}"`, s.replace(/ /g, '\t')]);
    });
    const line = words.join(rng.pick([' ', '  ', '\t', ' \x00 ']));
    const end = rng.pick(['\r\n', '\n', '\r', '', '\r\r\n']);
    const long = rng.chance(0.05) ? 'x'.repeat(1 + rng.skewed(1 << 20)) : '';
    return Buffer.from(line + long + end, 'latin1');
  },
  nested(rng, argv) {
    // Arrays inside the request, or RESP3 / reply types a request may not carry.
    const inner = encodeCommand(argv);
    const foreign = rng.pick([
      '+OK\r\n',
      ':12\r\n',
      '-ERR x\r\n',
      '_\r\n',
      '%1\r\n+a\r\n+b\r\n',
      '~2\r\n',
      '#t\r\n',
      ',1.5\r\n',
      '(12\r\n',
      '=5\r\ntxt:x\r\n',
      '|1\r\n',
    ]);
    const depth = 1 + rng.skewed(1000);
    return rng.chance(0.5)
      ? Buffer.concat([Buffer.from(`*${argv.length + 1}\r\n`.repeat(depth)), inner])
      : Buffer.concat([Buffer.from(`*2\r\n${foreign}`), inner]);
  },
  repeat(rng, argv) {
    // One request pipelined many times: reads of a big value that the client may never read.
    const frame = encodeCommand(argv);
    const times = Math.min(2 + rng.skewed(2048), Math.max(2, Math.floor(MAX_REPEAT_BYTES / frame.length)));
    return Buffer.concat(new Array(times).fill(frame));
  },
  bigArgument(rng, argv) {
    const big = Buffer.alloc(1 + rng.skewed(4 << 20), 0x61);
    const copy = [...argv];
    copy[rng.int(Math.min(1, copy.length - 1), copy.length - 1)] = big;
    return encodeCommand(copy);
  },
  wrongArity(rng, argv) {
    if (rng.chance(0.5)) return encodeCommand(argv.slice(0, rng.int(0, argv.length - 1)));
    return encodeCommand([...argv, ...new Array(1 + rng.skewed(64)).fill(Buffer.from('x'))]);
  },
  unknownCommand(rng, argv) {
    return encodeCommand([rng.bytes(rng.skewed(64)), ...argv.slice(1)]);
  },
  bytes(rng, argv) {
    return mutateBytes(rng, encodeCommand(argv));
  },
};

const MUTATOR_LIST = Object.values(RESP_MUTATORS);

/** Sessions of RESP frames; pure: the same rng state gives the same bytes. */
export function respSession(rng: Rng, cmds: RespCommands, first: number, maxFrames: number, password: string): StreamSession {
  const frames = Math.min(maxFrames, 1 + rng.skewed(255));
  const mutationRate = rng.pick([0, 0.05, 0.2, 0.5, 1]);
  const multi = rng.chance(0.1);
  const parts: Buffer[] = [];
  if (password) parts.push(encodeCommand(['AUTH', password]));
  for (let i = 0; i < frames; i++) {
    if (multi && i === 0) parts.push(encodeCommand(['MULTI']));
    else if (multi && i === frames - 1) parts.push(encodeCommand([rng.chance(0.8) ? 'EXEC' : 'DISCARD']));
    else {
      const argv = cmds.valid(rng);
      parts.push(rng.chance(mutationRate) ? rng.pick(MUTATOR_LIST)(rng, argv, cmds) : encodeCommand(argv));
    }
  }
  return {
    first,
    frames,
    writes: splitWrites(rng, Buffer.concat(parts)),
    reads: rng.chance(0.85),
    end: rng.pick(['wait', 'wait', 'fin', 'reset'] as const),
    holdMs: rng.skewed(3000),
  };
}
