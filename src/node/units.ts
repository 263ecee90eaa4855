/**
 * Values with units, one parser each for every place that takes them: flags, RAFTKV_* variables
 * and the config file (config.ts), and CONFIG SET (src/resp/handlers/config.ts,
 * client-limits.ts). Byte sizes follow Redis's memtoull, so a value means the same in
 * `--maxmemory 100mb` and `CONFIG SET maxmemory 100mb`; durations follow etcd's and Go's
 * spelling (`500ms`, `2s`, `1m`).
 */

const BYTE_UNITS: Readonly<Record<string, number>> = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 };

/**
 * Redis's memtoull: digits with an optional b/k/kb/m/mb/g/gb unit, any case (k = 1000,
 * kb = 1024). Exact as a bigint (CONFIG SET replicates the integer even past 2^53); null when
 * it is not a memory value or reaches 2^64.
 */
export function parseBytesExact(s: string): bigint | null {
  const m = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(s);
  if (!m) return null;
  const n = BigInt(m[1]) * BigInt(BYTE_UNITS[(m[2] ?? 'b').toLowerCase()]);
  return n >= 2n ** 64n ? null : n;
}

/** A byte size as a number: null past Number.MAX_SAFE_INTEGER too. */
export function parseBytes(s: string): number | null {
  const n = parseBytesExact(s);
  return n === null || n > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(n);
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration in milliseconds: `500ms`, `2s`, `1.5s`, `1m`, `1h`, or plain digits in
 * `bareUnit` (the unit the setting always had: ms for `--tick-ms`, s for `--timeout`). Null
 * when it is not a duration or not a whole number of milliseconds.
 */
export function parseDuration(s: string, bareUnit: 'ms' | 's' = 'ms'): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m || (m[2] === undefined && m[1].includes('.'))) return null;
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? bareUnit];
  return Number.isSafeInteger(ms) ? ms : null;
}

/** `1024` → `1kb`, `52428800` → `50mb`: the largest unit that divides the value exactly. */
export function formatBytes(n: number): string {
  if (n === 0) return '0';
  for (const [unit, size] of [
    ['gb', 1024 ** 3],
    ['mb', 1024 ** 2],
    ['kb', 1024],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n}b`;
}

/** `1500` → `1.5s`, `50` → `50ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  return ms >= 1000 && ms % 100 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
