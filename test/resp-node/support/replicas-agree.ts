/**
 * Waits until every node of a cluster, read with READONLY (its own copy, no redirect), answers
 * the same to the same commands: the check that replicas applied the same writes, shared by the
 * differential and client suites.
 */
import { type NodeHandle, waitFor } from '../../support/cluster-harness.ts';
import { RawConn } from './resp-bytes.ts';

/**
 * Every node's raw replies to `reads`, joined with '|', once they are all alike and `settled`
 * holds for them (the writes reached every replica); times out after 20 s naming `what`.
 */
export async function replicasAgree(
  nodes: readonly NodeHandle[],
  reads: readonly (readonly string[])[],
  what: string,
  settled: (view: string) => boolean = () => true,
): Promise<string> {
  const read = async (h: NodeHandle) => {
    const conn = await RawConn.open(h.port);
    try {
      await conn.call('readonly');
      const out: string[] = [];
      for (const cmd of reads) out.push((await conn.call(...cmd)).toString('latin1'));
      return out.join('|');
    } finally {
      conn.close();
    }
  };
  let views: string[] = [];
  await waitFor(
    async () => {
      views = await Promise.all(nodes.map(read));
      return views.every((v) => v === views[0]) && settled(views[0]);
    },
    20_000,
    `every replica to hold the same ${what}`,
  );
  return views[0];
}
