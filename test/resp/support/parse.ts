/** Helpers to run the request parser over a byte stream cut into chunks. */
import { ProtocolError } from '../../../src/resp/errors.ts';
import { type ParserLimits, RequestParser } from '../../../src/resp/parser.ts';

export interface ParseOutcome {
  /** Each request's arguments, as latin1 strings (lossless, easy to compare and print). */
  commands: string[][];
  /** The protocol error that stopped the stream, as "ClassName: message". */
  error: string | null;
}

/** Feeds `chunks` one by one, draining complete requests after each, as the server does. */
export function parseChunks(chunks: readonly Buffer[], limits?: Partial<ParserLimits>): ParseOutcome {
  const parser = new RequestParser(limits);
  const commands: string[][] = [];
  try {
    for (const chunk of chunks) {
      parser.push(chunk);
      for (let argv = parser.next(); argv !== null; argv = parser.next()) {
        commands.push(argv.map((a) => a.toString('latin1')));
      }
    }
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { commands, error: `${err.name}: ${err.message}` };
  }
  return { commands, error: null };
}

export function parseString(s: string, limits?: Partial<ParserLimits>): ParseOutcome {
  return parseChunks([Buffer.from(s, 'latin1')], limits);
}

/** Cuts `data` at the given offsets. */
export function split(data: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(data.subarray(prev, c));
    prev = c;
  }
  out.push(data.subarray(prev));
  return out;
}

/** A small seeded PRNG (mulberry32), so a failing fuzz case replays exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
