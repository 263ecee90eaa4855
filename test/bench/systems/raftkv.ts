/** The 3-node RaftKV cluster (fsync on, defaults) via the integration-test harness, plus its write load. */
import { fileURLToPath } from 'node:url';
import { ClusterHarness, type NodeHandle } from '../../support/cluster-harness.ts';
import type { LoadResult } from '../load-result.ts';
import { onCleanup, run } from '../procs.ts';

const LOAD = fileURLToPath(new URL('../resp-load.ts', import.meta.url));

export async function startRaftKV(): Promise<ClusterHarness> {
  const h = new ClusterHarness({ nodes: 3, extraArgs: ['--log-level', 'warn'] });
  onCleanup(() => h.stop());
  await h.start();
  await h.waitLeader();
  return h;
}

/** Runs the Node RESP write generator in its own process against the leader. */
export async function raftkvLoad(leader: NodeHandle, clients: number, seconds: number): Promise<LoadResult> {
  const out = await run(process.execPath, ['--import', 'tsx', LOAD, '--port', String(leader.port), '--clients', String(clients), '--seconds', String(seconds)]);
  return JSON.parse(out.trim().split('\n').pop()!) as LoadResult;
}
