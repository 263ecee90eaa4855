/**
 * Redis's client-output-buffer-limit setting: its text form (`normal 0 0 0 slave 256mb 64mb
 * 60 pubsub 32mb 8mb 60`), parsed and printed the way redis-server does, so the same value
 * works as a flag, in the config file and in CONFIG SET/GET. The RESP server enforces it
 * (connection.ts); this file only knows the format, so the config loader can check a value
 * at start and exit naming the setting.
 */
import { parseBytes } from './units.ts';

/** One class's limits: close at `hard` bytes owed, or after `softSeconds` above `soft` (0: none). */
export interface OutputLimit {
  hard: number;
  soft: number;
  softSeconds: number;
}

/** The classes Redis 7.0 has; replicas do not speak RESP here, but the class is kept for CONFIG. */
export interface OutputLimits {
  normal: OutputLimit;
  slave: OutputLimit;
  pubsub: OutputLimit;
}

/** Redis 7.0's defaults. */
export const DEFAULT_OUTPUT_LIMITS = 'normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60';

/** Redis's memtoull: digits with an optional b/k/kb/m/mb/g/gb unit (k = 1000, kb = 1024). */
export const parseMemory = parseBytes;

/**
 * Applies `text` (groups of four: class hard soft seconds) on top of `base`, as CONFIG SET
 * does: classes not named keep their limits. Returns the new limits, or why the text is wrong
 * (Redis's message).
 */
export function parseOutputLimits(text: string, base?: OutputLimits): OutputLimits | string {
  const none = { hard: 0, soft: 0, softSeconds: 0 };
  const out: OutputLimits = base ? { ...base } : { normal: none, slave: none, pubsub: none };
  const words = text
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (words.length === 0 || words.length % 4 !== 0) return 'Wrong number of arguments in buffer limit configuration.';
  for (let i = 0; i < words.length; i += 4) {
    let cls = words[i].toLowerCase();
    if (cls === 'replica') cls = 'slave';
    if (cls !== 'normal' && cls !== 'slave' && cls !== 'pubsub') return 'Invalid client class specified in buffer limit configuration.';
    const hard = parseMemory(words[i + 1]);
    const soft = parseMemory(words[i + 2]);
    const seconds = /^\d{1,9}$/.test(words[i + 3]) ? Number(words[i + 3]) : null;
    if (hard === null || soft === null || seconds === null) return 'Error in hard, soft or soft_seconds setting in buffer limit configuration.';
    out[cls] = { hard, soft, softSeconds: seconds };
  }
  return out;
}

/** The CONFIG GET form: every class, in bytes. */
export function formatOutputLimits(l: OutputLimits): string {
  return (['normal', 'slave', 'pubsub'] as const).map((c) => `${c} ${l[c].hard} ${l[c].soft} ${l[c].softSeconds}`).join(' ');
}
