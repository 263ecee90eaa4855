/**
 * Parser fuzzing with a seeded PRNG: random valid streams (multibulk and inline, binary
 * arguments) must parse to exactly what was encoded, and random or mutated streams must give
 * the same outcome however they are cut into chunks (every single cut, byte by byte, random
 * multi-cuts), never failing with anything but a named protocol error.
 * A failure prints its seed; set FUZZ_SEED to replay one case.
 */
import { describe, expect, it } from 'vitest';
import { encodeRequest } from './support/client.ts';
import { type ParseOutcome, parseChunks, prng, split } from './support/parse.ts';

const ROUNDS = 250;
/** Streams up to this size are checked at every cut point; longer ones at sampled cuts. */
const EXHAUSTIVE_MAX = 700;

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)];

/** Bytes that matter to the protocol appear far more often than chance would give them. */
const SPECIAL = [0x0d, 0x0a, 0x00, 0x2a, 0x24, 0x20, 0x22, 0x27, 0x5c, 0x09, 0x0b, 0x78, 0x30, 0x2d, 0xff];

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng() < 0.3 ? pick(rng, SPECIAL) : int(rng, 256);
  return b;
}

function randomArg(rng: Rng): Buffer {
  const r = rng();
  const len = r < 0.1 ? 0 : r < 0.85 ? 1 + int(rng, 12) : r < 0.97 ? 50 + int(rng, 300) : 2000 + int(rng, 3000);
  return randomBytes(rng, len);
}

/** An inline token quoted so that sdssplitargs gives it back exactly. */
function quoteInline(rng: Rng, token: Buffer): string {
  const plain = token.length > 0 && token.every((c) => c > 0x20 && c < 0x7f && c !== 0x22 && c !== 0x27);
  if (plain && rng() < 0.7) return token.toString('latin1');
  let s = '"';
  for (const c of token) {
    if (c === 0x22 || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `${s}"`;
}

interface Frame {
  bytes: Buffer;
  argv: Buffer[];
}

function randomFrame(rng: Rng): Frame {
  const argv = Array.from({ length: 1 + int(rng, 5) }, () => randomArg(rng));
  if (rng() < 0.7) return { bytes: encodeRequest(argv), argv };
  // Inline: the first token must not start with '*', which would make it a multibulk request.
  if (argv[0].length === 0 || argv[0][0] === 0x2a) argv[0] = Buffer.from('CMD');
  const seps = [' ', '  ', '\t'];
  const line = argv.map((a) => quoteInline(rng, a)).join(pick(rng, seps));
  const lead = argv[0][0] === 0x20 || rng() < 0.8 ? '' : ' ';
  return { bytes: Buffer.from(`${lead}${line}${rng() < 0.5 ? '\r\n' : '\n'}`, 'latin1'), argv };
}

function mutate(rng: Rng, data: Buffer): Buffer {
  let b = Buffer.from(data);
  const n = 1 + int(rng, 4);
  for (let i = 0; i < n; i++) {
    const at = int(rng, b.length + 1);
    const op = int(rng, 5);
    if (op === 0 && b.length > 0) b[Math.min(at, b.length - 1)] = pick(rng, SPECIAL);
    else if (op === 1) b = Buffer.concat([b.subarray(0, at), randomBytes(rng, 1 + int(rng, 3)), b.subarray(at)]);
    else if (op === 2) b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(rng, 3))]);
    else if (op === 3) b = b.subarray(0, at);
    else b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(rng, ['*', '$', '\r\n', '*-1\r\n', '$0\r\n', '"']))]);
  }
  return b;
}

function cutPoints(rng: Rng, length: number): number[] {
  if (length <= EXHAUSTIVE_MAX) return Array.from({ length: length + 1 }, (_, i) => i);
  return Array.from({ length: 60 }, () => int(rng, length + 1));
}

/** Parses `data` whole, then cut in every way, and returns the whole-stream outcome. */
function checkSplitInvariance(rng: Rng, data: Buffer, seed: number): ParseOutcome {
  const whole = parseChunks([data]);
  const context = `seed ${seed}, stream ${JSON.stringify(data.toString('latin1').slice(0, 200))}`;
  for (const cut of cutPoints(rng, data.length)) {
    expect(parseChunks(split(data, [cut])), `${context}, cut at ${cut}`).toEqual(whole);
  }
  if (data.length <= 4 * EXHAUSTIVE_MAX) {
    const bytes = Array.from({ length: data.length }, (_, i) => data.subarray(i, i + 1));
    expect(parseChunks(bytes), `${context}, byte by byte`).toEqual(whole);
  }
  for (let i = 0; i < 5; i++) {
    const cuts = Array.from({ length: 2 + int(rng, 5) }, () => int(rng, data.length + 1));
    expect(parseChunks(split(data, cuts)), `${context}, cuts ${cuts}`).toEqual(whole);
  }
  return whole;
}

function seeds(base: number): number[] {
  const fixed = process.env.FUZZ_SEED;
  if (fixed !== undefined) return [Number(fixed)];
  return Array.from({ length: ROUNDS }, (_, i) => base + i);
}

describe('parser fuzz', () => {
  it('valid streams parse to exactly the encoded requests, however they are cut', () => {
    for (const seed of seeds(1000)) {
      const rng = prng(seed);
      const frames = Array.from({ length: 1 + int(rng, 6) }, () => randomFrame(rng));
      const data = Buffer.concat(frames.map((f) => f.bytes));
      const outcome = checkSplitInvariance(rng, data, seed);
      expect(outcome, `seed ${seed}`).toEqual({
        commands: frames.map((f) => f.argv.map((a) => a.toString('latin1'))),
        error: null,
      });
    }
  });

  it('mutated streams give one outcome whatever the cuts, and only named protocol errors', () => {
    let failures = 0;
    for (const seed of seeds(50_000)) {
      const rng = prng(seed);
      const frames = Array.from({ length: 1 + int(rng, 5) }, () => randomFrame(rng));
      const data = mutate(rng, Buffer.concat(frames.map((f) => f.bytes)));
      if (checkSplitInvariance(rng, data, seed).error !== null) failures++;
    }
    // The mutations must actually reach the error paths, or this test proves little.
    if (process.env.FUZZ_SEED === undefined) expect(failures).toBeGreaterThan(ROUNDS / 10);
  });

  it('random garbage gives one outcome whatever the cuts', () => {
    for (const seed of seeds(90_000)) {
      const rng = prng(seed);
      const data = randomBytes(rng, int(rng, 120));
      // A leading '*' makes the garbage multibulk half the time.
      if (rng() < 0.5 && data.length > 0) data[0] = 0x2a;
      checkSplitInvariance(rng, data, seed);
    }
  });
});
