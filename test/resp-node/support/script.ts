/**
 * Command scripts for differential tests: the same steps run against two servers, over as many
 * connections as a step names, and every reply is compared as raw bytes (or through a
 * comparator, for clock-dependent or unordered replies).
 */
import { encodeCommand, RawConn, replyEnd } from './resp-bytes.ts';

/** Compares our reply with Redis's (latin1 strings); returns why they differ, or null. */
export type Comparator = (ours: string, theirs: string) => string | null;

export interface Step {
  /** Connection index; a connection opens the first time a step names it. */
  on: number;
  /** The command, or nothing to only read `replies` pending replies (pushes). */
  args: (string | Buffer)[] | null;
  /** Replies this step produces (SUBSCRIBE a b answers twice). */
  replies: number;
  compare: Comparator;
  text: string;
  /** Wait this long before the step (a key's expiry passing). */
  sleepMs?: number;
}

export const exact: Comparator = (a, b) => (a === b ? null : 'bytes differ');

/** Splits a command line on spaces; `\s` is a space inside an argument, `\0` a NUL, `\e` nothing. */
export function words(line: string): string[] {
  return line.split(' ').map((w) => w.replace(/\\s/g, ' ').replace(/\\0/g, '\0').replace(/\\e/g, ''));
}

/** A step: `c('set k v')`, `c('subscribe a b', { replies: 2, on: 1 })`. */
export function c(line: string | (string | Buffer)[], opts: Partial<Omit<Step, 'args' | 'text'>> = {}): Step {
  const args = typeof line === 'string' ? words(line) : line;
  const text = typeof line === 'string' ? line : line.map(String).join(' ');
  return { on: 0, replies: 1, compare: exact, ...opts, args, text };
}

/** A step that only reads `n` pending replies (pub/sub messages) on connection `on`. */
export function pending(on: number, n = 1, compare: Comparator = exact): Step {
  return { on, args: null, replies: n, compare, text: `(read ${n} on #${on})` };
}

/** Waits `ms` on both sides (nothing is sent or read). */
export function pause(ms: number): Step {
  return { on: 0, args: null, replies: 0, compare: exact, text: `(pause ${ms} ms)`, sleepMs: ms };
}

/** The raw elements of a top-level aggregate reply. */
export function elements(reply: string): string[] {
  const buf = Buffer.from(reply, 'latin1');
  const eol = buf.indexOf('\r\n');
  const n = Number(buf.toString('latin1', 1, eol));
  const out: string[] = [];
  let pos = eol + 2;
  for (let i = 0; i < n; i++) {
    const end = replyEnd(buf, pos);
    out.push(buf.toString('latin1', pos, end));
    pos = end;
  }
  return out;
}

/** Same elements in any order (KEYS; hash-table order differs). */
export const unordered: Comparator = (a, b) => (JSON.stringify(elements(a).sort()) === JSON.stringify(elements(b).sort()) ? null : 'elements differ');

/** SCAN: same cursor, same keys in any order. */
export const scanPage: Comparator = (a, b) => {
  const [ca, ka] = elements(a);
  const [cb, kb] = elements(b);
  if (ca !== cb) return 'cursors differ';
  return unordered(ka, kb);
};

/** Integer replies within `tolerance` (TTL, PTTL, EXPIRETIME right after setting one). */
export function near(tolerance: number): Comparator {
  return (a, b) => {
    if (a[0] !== ':' || b[0] !== ':') return exact(a, b);
    return Math.abs(Number(a.slice(1, -2)) - Number(b.slice(1, -2))) <= tolerance ? null : `more than ${tolerance} apart`;
  };
}

/** Compares after rewriting both replies (blanking ids, modes, clocks). */
export function normalized(fn: (s: string) => string): Comparator {
  return (a, b) => exact(fn(a), fn(b));
}

export interface Mismatch {
  step: string;
  why: string;
  ours: string;
  theirs: string;
}

/** Runs the steps on both servers side by side; resolves with every mismatch. */
export async function runScript(ourPort: number, theirPort: number, steps: readonly Step[]): Promise<Mismatch[]> {
  const ours = new Map<number, RawConn>();
  const theirs = new Map<number, RawConn>();
  const conn = async (pool: Map<number, RawConn>, port: number, i: number): Promise<RawConn> => {
    let c = pool.get(i);
    if (!c) {
      c = await RawConn.open(port);
      pool.set(i, c);
    }
    return c;
  };
  const out: Mismatch[] = [];
  try {
    for (const step of steps) {
      if (step.sleepMs) await new Promise((r) => setTimeout(r, step.sleepMs));
      const [a, b] = await Promise.all([conn(ours, ourPort, step.on), conn(theirs, theirPort, step.on)]);
      if (step.args) {
        a.send(encodeCommand(step.args));
        b.send(encodeCommand(step.args));
      }
      const [ra, rb] = await Promise.all([a.read(step.replies), b.read(step.replies)]);
      for (let i = 0; i < step.replies; i++) {
        const x = ra[i].toString('latin1');
        const y = rb[i].toString('latin1');
        const why = step.compare(x, y);
        if (why !== null) out.push({ step: step.text, why, ours: clip(x), theirs: clip(y) });
      }
    }
  } finally {
    for (const c of [...ours.values(), ...theirs.values()]) c.close();
  }
  return out;
}

/** Long replies (COMMAND DOCS) are cut in failure reports. */
function clip(s: string): string {
  return s.length > 400 ? `${s.slice(0, 400)}... (${s.length} bytes)` : s;
}
