/**
 * `npm run fuzz -- --target resp|http|peer --iterations N --seed S`: mutates valid frames
 * against a real node (run.ts). The last line printed is exactly
 * `iterations: N, crashes: C, stalls: S, max-rss-mib: M`; the exit code is 1 when there was a
 * crash or a stall or RSS passed its bound, 2 when the fuzzer itself could not run.
 */
import { readFileSync } from 'node:fs';
import { HttpTarget } from './http-target.ts';
import { type FuzzOptions, OptionError, parseOptions, type TargetName, usage } from './options.ts';
import { PeerTarget } from './peer-target.ts';
import { DEFAULT_EXCLUDED } from './resp.ts';
import { RespTarget } from './resp-target.ts';
import { activeHarness, runFuzz } from './run.ts';
import type { Target } from './target.ts';

const log = (line: string) => process.stdout.write(`${line}\n`);

function onSignal(code: number): void {
  for (const h of activeHarness?.nodes ?? []) h.proc?.kill('SIGKILL');
  log('interrupted: nodes stopped');
  process.exit(code);
}

async function main(): Promise<number> {
  process.on('SIGINT', () => onSignal(130));
  process.on('SIGTERM', () => onSignal(143));
  // The clock picks a seed only when none is given; every input then follows from the seed.
  const parsed = parseOptions(process.argv.slice(2), Date.now() % 2 ** 31);
  if (parsed === 'help') {
    log(usage());
    return 0;
  }
  const o = parsed;
  if (o.triage) return triage(o);
  log(`seed: ${o.seed}`);
  const target = makeTarget(o);
  const s = await runFuzz(o, target, log);
  let misconfigured = false;
  if (target instanceof PeerTarget) {
    log(`authenticated sessions: ${target.authenticated} of ${target.authAttempts}`);
    log(`member stalls (authenticated phase, not counted): ${s.memberStalls}`);
    // Refused every time (a wrong secret, an id the node does not accept): the second half of
    // the run tested nothing it claims to.
    misconfigured = s.crashes === 0 && target.authAttempts >= 10 && target.authenticated === 0;
    if (misconfigured) log('fuzzer error: the node refused every authenticated session');
  }
  log(`iterations: ${s.iterations}, crashes: ${s.crashes}, stalls: ${s.stalls}, max-rss-mib: ${s.maxRssMib}`);
  if (misconfigured) return 2;
  return s.crashes > 0 || s.stalls > 0 || s.rssExceeded ? 1 : 0;
}

function makeTarget(o: FuzzOptions): Target {
  const included = o.include
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const excluded = DEFAULT_EXCLUDED.filter((c) => !included.includes(c));
  const target = o.target === 'resp' ? new RespTarget(o.password, excluded) : o.target === 'http' ? new HttpTarget(o.password) : new PeerTarget(o.iterations);
  return target as Target;
}

/**
 * The sessions of a record, each replayed alone on a fresh node, then all of them together:
 * which input (if any single one) crashes the node, stalls the probe or grows RSS, and by how
 * much, and whether the set reproduces what no one of them does alone.
 */
async function triage(o: FuzzOptions): Promise<number> {
  const rec = JSON.parse(readFileSync(o.triage, 'utf8')) as { target: TargetName; seed: number; runIterations: number; sessions: { first: number }[] };
  const total = { iterations: 0, crashes: 0, stalls: 0, maxRssMib: 0, rss: false };
  const firsts = rec.sessions.map((s) => s.first);
  for (const replay of [...firsts.map((f) => [f]), firsts]) {
    const one: FuzzOptions = { ...o, target: rec.target, seed: rec.seed, iterations: rec.runIterations, replay, triage: '' };
    const s = await runFuzz(one, makeTarget(one), () => {});
    const what = replay.length === 1 ? `session ${replay[0]}` : `all ${replay.length} sessions together`;
    log(
      `${what}: ${s.iterations} iterations, crashes ${s.crashes}, stalls ${s.stalls}, rss ${s.baseRssMib} -> ${s.maxRssMib} MiB (+${s.maxRssMib - s.baseRssMib})`,
    );
    total.iterations += s.iterations;
    total.crashes += s.crashes;
    total.stalls += s.stalls;
    total.maxRssMib = Math.max(total.maxRssMib, s.maxRssMib);
    total.rss ||= s.rssExceeded;
  }
  log(`iterations: ${total.iterations}, crashes: ${total.crashes}, stalls: ${total.stalls}, max-rss-mib: ${total.maxRssMib}`);
  return total.crashes > 0 || total.stalls > 0 || total.rss ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    if (err instanceof OptionError) log(`${err.message}\n${usage()}`);
    else log(`fuzzer error: ${err.stack ?? err.message}`);
    log('iterations: 0, crashes: 0, stalls: 0, max-rss-mib: 0');
    process.exit(2);
  },
);
