/**
 * HTTP Idempotency-Key (issue 11, hole 5) over real node processes: a retried write applies at
 * most once and answers the first result, after a 504 outcome_unknown, on another node after a
 * failover, and after a snapshot and a restart of every node; the same key with another request
 * is 422; a malformed key is 400; a record expires after idempotency-ttl-ms of entry time.
 *
 * Each retry is preceded by an unkeyed write to the same key, so a retry that applied again
 * would show in the value read back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterHarness, type NodeHandle, waitFor } from '../support/cluster-harness.ts';

let cluster: ClusterHarness | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

interface Answer {
  status: number;
  body: Record<string, unknown>;
  replayed: boolean;
}

async function send(h: NodeHandle, method: 'PUT' | 'DELETE', key: string, value?: string, idem?: string): Promise<Answer> {
  const c = cluster!;
  const headers: Record<string, string> = value === undefined ? {} : { 'content-type': 'application/json' };
  if (idem !== undefined) headers['idempotency-key'] = idem;
  const r = await c.fetch(c.url(h, `/v1/kv/${encodeURIComponent(key)}`), {
    method,
    headers,
    ...(value === undefined ? {} : { body: JSON.stringify({ value }) }),
    redirect: 'manual',
    signal: AbortSignal.timeout(10_000),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown>, replayed: r.headers.get('idempotent-replayed') === 'true' };
}

const put = (h: NodeHandle, key: string, value: string, idem?: string) => send(h, 'PUT', key, value, idem);
const del = (h: NodeHandle, key: string, idem?: string) => send(h, 'DELETE', key, undefined, idem);

async function readValue(h: NodeHandle, key: string): Promise<string | undefined> {
  return (await cluster!.get(h, key)).value;
}

describe('HTTP writes with an Idempotency-Key', () => {
  it('answer the first result to a retry, 422 to another request, 400 to a bad key, and survive a failover', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();

    const first = await put(leader, 'a', 'v1', 'key-1');
    expect(first).toMatchObject({ status: 200, replayed: false, body: { ok: true } });
    expect(await put(leader, 'a', 'v2')).toMatchObject({ status: 200 });
    const retry = await put(leader, 'a', 'v1', 'key-1');
    expect(retry).toEqual({ ...first, replayed: true });
    expect(await readValue(leader, 'a')).toBe('v2');

    const other = await put(leader, 'a', 'v3', 'key-1');
    expect(other).toMatchObject({ status: 422, body: { error: 'idempotency_key_reused' } });
    expect((await del(leader, 'a', 'key-1')).status).toBe(422);
    expect(await readValue(leader, 'a')).toBe('v2');

    // DELETE's first result is "deleted 1"; applied again it would be 0.
    expect(await del(leader, 'a', 'del-1')).toMatchObject({ status: 200, body: { deleted: 1 }, replayed: false });
    expect(await put(leader, 'a', 'v4')).toMatchObject({ status: 200 });
    expect(await del(leader, 'a', 'del-1')).toMatchObject({ status: 200, body: { deleted: 1 }, replayed: true });
    expect(await readValue(leader, 'a')).toBe('v4');

    // Racing copies of one request, in flight together: the log orders them, one applies.
    expect(await put(leader, 'r', 'present')).toMatchObject({ status: 200 });
    const racing = await Promise.all([1, 2, 3].map(() => del(leader, 'r', 'race-del')));
    expect(racing.map((x) => x.body)).toEqual([{ deleted: 1 }, { deleted: 1 }, { deleted: 1 }]);
    expect(racing.filter((x) => !x.replayed)).toHaveLength(1);

    for (const bad of ['', 'x'.repeat(256), 'tab\there']) {
      const r = await put(leader, 'bad', 'v', bad);
      expect(r, JSON.stringify(bad)).toMatchObject({ status: 400, body: { error: 'invalid_idempotency_key' } });
    }
    expect(await put(leader, 'bad', 'v', 'x'.repeat(255))).toMatchObject({ status: 200 });
    expect(await put(leader, 'spaced', 'v', 'a key with spaces')).toMatchObject({ status: 200 });

    // Failover: the records are replicated, so the new leader answers the retries alike.
    const b1 = await put(leader, 'b', 'x1', 'key-b');
    expect(b1.status).toBe(200);
    expect(await put(leader, 'c', 'one')).toMatchObject({ status: 200 });
    const c1 = await del(leader, 'c', 'del-c');
    expect(c1).toMatchObject({ status: 200, body: { deleted: 1 } });
    await cluster.kill9(leader);
    const next = await cluster.waitLeader();
    expect(next).not.toBe(leader);
    expect(await put(next, 'b', 'x2')).toMatchObject({ status: 200 });
    expect(await put(next, 'c', 'two')).toMatchObject({ status: 200 });
    expect(await put(next, 'b', 'x1', 'key-b')).toEqual({ ...b1, replayed: true });
    expect(await del(next, 'c', 'del-c')).toEqual({ ...c1, replayed: true });
    expect(await readValue(next, 'b')).toBe('x2');
    expect(await readValue(next, 'c')).toBe('two');
    expect((await put(next, 'b', 'x3', 'key-b')).status).toBe(422);
  }, 90_000);

  it('answer the first result after the 504 outcome_unknown of a leader that shut down mid-write', async () => {
    cluster = new ClusterHarness();
    await cluster.start();
    const leader = await cluster.waitLeader();
    expect(await put(leader, 'k', 'before')).toMatchObject({ status: 200 });
    const [f1, f2] = cluster.nodes.filter((h) => h !== leader);
    await cluster.kill9(f1);
    await cluster.kill9(f2);
    // The leader appends this write but cannot commit it: no follower is left to ack.
    const pending = put(leader, 'k', 'first', 'retry-me');
    await new Promise((r) => setTimeout(r, 300));
    await cluster.signal(leader, 'SIGTERM');
    expect(await pending).toMatchObject({ status: 504, body: { error: 'outcome_unknown' } });

    // The old leader holds the longest log, so it wins again and commits the write: its
    // outcome, unknown to the client, is "applied".
    await cluster.restart(leader);
    await cluster.restart(f1);
    expect(await cluster.waitLeader(20_000, [leader, f1])).toBe(leader);
    await waitFor(async () => (await readValue(leader, 'k')) === 'first', 10_000, 'the write to commit');
    expect(await put(leader, 'k', 'other')).toMatchObject({ status: 200 });
    const retry = await put(leader, 'k', 'first', 'retry-me');
    expect(retry).toMatchObject({ status: 200, replayed: true, body: { ok: true } });
    expect(await put(leader, 'k', 'first', 'retry-me')).toEqual(retry);
    expect(await readValue(leader, 'k')).toBe('other');
  }, 90_000);

  it('answer the first result after a snapshot and a restart of every node', async () => {
    cluster = new ClusterHarness({ extraArgs: ['--snapshot-entries', '20', '--snapshot-keep-entries', '0'] });
    await cluster.start();
    let leader = await cluster.waitLeader();
    const first = await put(leader, 'a', 'v1', 'snap-key');
    const removed = await del(leader, 'gone', 'snap-del');
    expect(first).toMatchObject({ status: 200 });
    expect(removed).toMatchObject({ status: 200, body: { deleted: 0 } });
    const index = first.body.index as number;
    for (let i = 0; i < 60; i++) expect((await put(leader, `fill${i}`, 'x')).status).toBe(200);
    expect(await put(leader, 'a', 'v2')).toMatchObject({ status: 200 });
    expect(await put(leader, 'gone', 'back')).toMatchObject({ status: 200 });
    // Every node has compacted its log past the keyed writes: after a restart only the
    // snapshot can hold their records.
    await waitFor(
      async () => (await Promise.all(cluster!.nodes.map((h) => cluster!.status(h)))).every((s) => s !== undefined && s.snapshot_index > index + 1),
      20_000,
      'every node to snapshot past the keyed writes',
    );
    for (const h of cluster.nodes) await cluster.kill9(h);
    for (const h of cluster.nodes) cluster.spawn(h);
    for (const h of cluster.nodes) await cluster.waitHttp(h);
    leader = await cluster.waitLeader();
    expect(await put(leader, 'a', 'v1', 'snap-key')).toEqual({ ...first, replayed: true });
    expect(await del(leader, 'gone', 'snap-del')).toEqual({ ...removed, replayed: true });
    expect((await put(leader, 'a', 'v9', 'snap-key')).status).toBe(422);
    expect(await readValue(leader, 'a')).toBe('v2');
    expect(await readValue(leader, 'gone')).toBe('back');
  }, 120_000);

  it('forget a key after idempotency-ttl-ms of entry time', async () => {
    cluster = new ClusterHarness({ nodes: 1, extraArgs: ['--idempotency-ttl-ms', '5000'] });
    await cluster.start();
    const [n1] = cluster.nodes;
    await cluster.waitLeader();
    const started = Date.now();
    expect(await put(n1, 'a', 'v1', 'short-lived')).toMatchObject({ status: 200, replayed: false });
    expect(await put(n1, 'a', 'v2', 'short-lived')).toMatchObject({ status: 422 });
    await new Promise((r) => setTimeout(r, 5500 - (Date.now() - started)));
    expect(await put(n1, 'a', 'v2', 'short-lived')).toMatchObject({ status: 200, replayed: false });
    expect(await readValue(n1, 'a')).toBe('v2');
  }, 60_000);
});
