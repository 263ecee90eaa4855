/**
 * Times the router guard (the per-command routing decision: slot, owner, MOVED/CROSSSLOT) for
 * SET and GET on a leading single-node RaftNode. Give it a source tree to compare two versions,
 * e.g. this branch against a `git archive` of its base with node_modules linked in:
 *
 *   npx tsx test/resp/tools/guard-bench.ts [repo root, default this one]
 *
 * Prints the best of 7 rounds of 500k calls each, in ns per call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

async function main(): Promise<void> {
  const root = process.argv[2] ?? fileURLToPath(new URL('../../../', import.meta.url));
  const { resolveConfig } = await import(`${root}/src/node/config.ts`);
  const { createLogger } = await import(`${root}/src/node/logger.ts`);
  const { RaftNode } = await import(`${root}/src/node/raft-node.ts`);
  const { NodeDispatcher } = await import(`${root}/src/resp/node-dispatcher.ts`);
  const { createGuard } = await import(`${root}/src/resp/handlers/guard.ts`);
  const { resolveCommand } = await import(`${root}/src/resp/commands/table.ts`);
  const { ClientConn } = await import(`${root}/src/resp/conn.ts`);
  const { freePort } = await import(`${root}/test/support/cluster-harness.ts`);
  const dir = mkdtempSync(join(tmpdir(), 'raftkv-guard-bench-'));
  const cfg = resolveConfig({ 'data-dir': dir, port: String(await freePort()), 'http-port': String(await freePort()), 'tick-ms': '10' }, {});
  const node = await RaftNode.open(cfg, createLogger('silent', 'n1', false));
  const dispatcher = new NodeDispatcher(node);
  node.start();
  while (!node.isLeader()) await new Promise((r) => setTimeout(r, 20));
  const guard = createGuard(dispatcher.ctx);
  const conn = new ClientConn(1, 'bench', 'bench', 1, 0, true, {} as never);
  const keys = Array.from({ length: 1000 }, (_, i) => Buffer.from(`key:${String(i).padStart(12, '0')}`));
  const value = Buffer.from('value');
  for (const name of ['set', 'get']) {
    const argvs = keys.map((k) => (name === 'set' ? [Buffer.from(name), k, value] : [Buffer.from(name), k]));
    const spec = resolveCommand(argvs[0]);
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 7; round++) {
      const t = process.hrtime.bigint();
      for (let j = 0; j < 500; j++) for (const argv of argvs) if (guard(conn, spec, argv) !== null) throw new Error(`${name} refused`);
      best = Math.min(best, Number(process.hrtime.bigint() - t) / 500_000);
    }
    console.log(`${name}: ${best.toFixed(1)} ns per guard call (best of 7 x 500k)`);
  }
  await node.shutdown();
  rmSync(dir, { recursive: true, force: true });
}

await main();
