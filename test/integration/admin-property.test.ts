/**
 * Property: no admin request can hurt the cluster. A few hundred random and mutated bodies (JSON
 * of random shapes, wrong types, huge and unicode strings, nested objects, non-JSON, wrong
 * content types) go to POST /v1/cluster/members, DELETE /v1/cluster/members/:id and POST
 * /v1/cluster/transfer-leadership on every node of a real 3-node cluster. Afterwards every node
 * process is alive, a leader exists, a write is read back from every node, no answer was a 5xx
 * other than the documented ones (src/http/errors.ts), and every address any node holds passes
 * the member validator.
 *
 * The seed is random per run and printed with any failure; FUZZ_SEED=<n> replays one.
 * Members that pass validation join as learners that never connect (so never get promoted);
 * at most three are kept at a time, and all are removed at the end. Their hosts are loopback
 * only and their HTTP ports below 1024, so the leader's dials to them stay on this machine and
 * reach no other test's nodes.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/kv/prng.ts';
import { hostProblem } from '../../src/node/addresses.ts';
import { checkMember } from '../../src/node/members.ts';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';

const ROUNDS = 300;
const CONCURRENCY = 4;
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** The 5xx answers src/http/errors.ts documents; anything else (500 internal) is a bug. */
const DOCUMENTED_5XX = new Set([
  'conf_change_pending',
  'proposal_dropped',
  'proposal_failed',
  'read_timeout',
  'shutting_down',
  'transfer_timeout',
  'no_leader',
  'outcome_unknown',
]);
const VOTERS = ['n1', 'n2', 'n3'];

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[int(rng, xs.length)];

const ODD_STRINGS = [
  '',
  ' ',
  'a b',
  '256.1.1.1',
  '1.2.3',
  '::1',
  '[::1]',
  '::',
  'localhost',
  'x:80',
  'http://h/',
  '-h',
  'h-',
  'a..b',
  'a_b',
  '127.0.0.1',
  '0.0.0.0',
  'n1',
  'n2',
  '\u0000',
  'é',
  '😀😀',
  'ﬀ',
  '\u202e',
  '../../etc',
  '%00',
  '\r\nX-Injected: 1',
  '{}',
  'null',
];
const ODD_NUMBERS = [0, -1, 1, 65535, 65536, 1.5, -0, 2 ** 53, 1e300, -1e300];

function randomString(rng: Rng): string {
  switch (int(rng, 5)) {
    case 0:
      return pick(rng, ODD_STRINGS);
    case 1:
      return 'a'.repeat(pick(rng, [63, 64, 65, 253, 254, 1000, 100_000]));
    case 2:
      return String.fromCodePoint(...Array.from({ length: 1 + int(rng, 20) }, () => int(rng, 0x10ffff + 1) & ~0xd800));
    case 3:
      return Array.from({ length: 1 + int(rng, 12) }, () => pick(rng, [...'abcxyz019.-_ :/[]%'])).join('');
    default:
      return `h${int(rng, 1000)}`;
  }
}

function randomJson(rng: Rng, depth = 0): unknown {
  switch (int(rng, depth > 3 ? 5 : 7)) {
    case 0:
      return null;
    case 1:
      return rng() < 0.5;
    case 2:
      return pick(rng, ODD_NUMBERS);
    case 3:
    case 4:
      return randomString(rng);
    case 5:
      return Array.from({ length: int(rng, 4) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(rng, 5); i > 0; i--) o[pick(rng, ['id', 'host', 'port', 'http_port', 'to', randomString(rng)])] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

/** A member that the validator may accept must not make the transport dial off this machine. */
function loopbackOnly(host: unknown): unknown {
  if (hostProblem(host) !== undefined) return host;
  return /^(127\.|::1$|localhost\.?$)/.test(host as string) ? host : '127.0.0.2';
}

let fresh = 0;
function memberBody(rng: Rng): unknown {
  const m: Record<string, unknown> = {
    id: `f${fresh++}`,
    host: pick(rng, ['127.0.0.1', '127.0.0.9', '::1', 'localhost']),
    port: 1 + int(rng, 65535),
    // The leader dials a learner's HTTP port: keep it below 1024, where no test's node listens.
    http_port: 1 + int(rng, 1023),
  };
  if (rng() < 0.3) return m;
  for (let i = 1 + int(rng, 3); i > 0; i--) {
    const field = pick(rng, ['id', 'host', 'port', 'http_port', 'extra']);
    const r = int(rng, 4);
    if (r === 0) delete m[field];
    else m[field] = r === 1 ? randomString(rng) : r === 2 ? pick(rng, ODD_NUMBERS) : randomJson(rng);
  }
  m.host = loopbackOnly(m.host);
  return m;
}

interface Req {
  method: 'POST' | 'DELETE';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

function randomRequest(rng: Rng, added: string[]): Req {
  const json = { 'content-type': 'application/json' };
  const kind = int(rng, 10);
  if (kind < 5) {
    // The bounded number of learners: past three, remove one instead of adding.
    if (added.length >= 3) return { method: 'DELETE', path: `/v1/cluster/members/${added[0]}`, headers: {} };
    return { method: 'POST', path: '/v1/cluster/members', headers: json, body: JSON.stringify(rng() < 0.8 ? memberBody(rng) : randomJson(rng)) };
  }
  if (kind < 7) {
    let id = rng() < 0.3 && added.length > 0 ? pick(rng, added) : randomString(rng);
    if (VOTERS.includes(id)) id = `${id}x`; // removing a voter is legitimate, but not under test here
    return { method: 'DELETE', path: `/v1/cluster/members/${encodeURIComponent(id)}`, headers: {} };
  }
  if (kind < 9) {
    // Now and then a real transfer: leadership moves while the other requests run.
    const body = rng() < 0.05 ? { to: pick(rng, VOTERS) } : rng() < 0.5 ? { to: randomJson(rng) } : randomJson(rng);
    return { method: 'POST', path: '/v1/cluster/transfer-leadership', headers: json, body: JSON.stringify(body) };
  }
  // Not JSON at all, or JSON under the wrong content type.
  const path = pick(rng, ['/v1/cluster/members', '/v1/cluster/transfer-leadership']);
  const body = pick(rng, [
    '{"id":',
    'id=x&host=y',
    '\u0000\u0001',
    '[]'.repeat(1000),
    `{"id":"${'x'.repeat(10_000)}"`,
    '',
    'null',
    JSON.stringify(memberBody(rng)),
  ]);
  const type = pick(rng, [
    'application/json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/json; charset=utf-16',
    '',
  ]);
  return { method: 'POST', path, headers: type ? { 'content-type': type } : {}, body };
}

let cluster: ClusterHarness;
beforeAll(async () => {
  cluster = new ClusterHarness();
  await cluster.start();
  await cluster.waitLeader();
}, 60_000);
afterAll(() => cluster.stop());

describe(`random admin requests (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, () => {
  it('leave every node up, a leader elected, writes working and only valid addresses in the log', async () => {
    const c = cluster;
    const rng = mulberry32(SEED);
    const added: string[] = [];
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    let fieldNamed = 0;

    const one = async (n: number) => {
      const req = randomRequest(rng, added);
      const h: NodeHandle = pick(rng, c.nodes);
      const what = `#${n} ${req.method} ${req.path.slice(0, 80)} ${String(req.body).slice(0, 120)} -> ${h.id}`;
      let r: Response;
      try {
        r = await fetch(c.url(h, req.path), { ...req, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
      } catch (err) {
        bad.push(`${what}: no answer: ${String(err)}`);
        return;
      }
      const text = await r.text();
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const body = (() => {
        try {
          return JSON.parse(text) as { error?: string; field?: string; id?: string; removed?: string };
        } catch {
          return {};
        }
      })();
      if (r.status >= 500 && !DOCUMENTED_5XX.has(String(body.error))) bad.push(`${what}: ${r.status} ${text.slice(0, 200)}`);
      if (r.status === 400 && body.field) fieldNamed++;
      if (r.status === 202 && body.id) added.push(body.id);
      if (r.status === 200 && body.removed) added.splice(added.indexOf(body.removed), 1);
    };

    for (let n = 0; n < ROUNDS; n += CONCURRENCY) {
      await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => one(n + i)));
      // A request to a node that has just died would only show up as "no answer": say so early.
      expect(
        c.running().map((h) => h.id),
        `seed ${SEED}: a node exited after request #${n}`,
      ).toEqual(VOTERS);
    }
    const summary = `seed ${SEED}, statuses ${JSON.stringify(Object.fromEntries(statuses))}`;
    expect(bad, summary).toEqual([]);
    // The generator must reach the validator's refusals and its acceptances, or this proves little.
    expect(fieldNamed, summary).toBeGreaterThan(ROUNDS / 10);
    expect(statuses.get(202) ?? 0, summary).toBeGreaterThan(0);

    // Every address that reached any node's book passed the validator.
    for (const h of c.nodes) {
      const st = (await (await fetch(c.url(h, '/v1/cluster'))).json()) as { members: { id: string; host: string; port: number; http_port: number }[] };
      for (const m of st.members) expect(() => checkMember({ ...m, httpPort: m.http_port }), `${summary}: ${JSON.stringify(m)} on ${h.id}`).not.toThrow();
    }

    // Clean up the learners, then the cluster must be as healthy as before.
    const leader = await c.waitLeader();
    const learners = (await c.status(leader))!.learners;
    for (const id of learners) {
      const del = await fetch(c.url(leader, `/v1/cluster/members/${id}`), { method: 'DELETE', signal: AbortSignal.timeout(15_000) });
      expect(del.status, `${summary}: removing ${id}`).toBe(200);
    }
    await waitFor(
      async () => {
        const sts = await Promise.all(c.nodes.map((h) => c.status(h)));
        return sts.every((s) => s?.learners.length === 0 && s.voters.join() === VOTERS.join());
      },
      10_000,
      'the learners to be gone everywhere',
    );
    const now = await c.waitLeader();
    expect((await c.put(now, 'after-fuzz', 'ok')).status, summary).toBe(200);
    for (const h of c.nodes) await waitFor(async () => (await c.get(h, 'after-fuzz')).value === 'ok', 5000, `${h.id} to serve the write`);
    for (const h of c.nodes)
      expect(readFileSync(h.logFile, 'utf8'), `${summary}: ${h.id}'s log`).not.toMatch(/unhandled error in HTTP route|ready loop failed/);
  }, 240_000);
});
