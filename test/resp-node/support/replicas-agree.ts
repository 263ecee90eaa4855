/**
 * Waits until every node of a cluster, read with READONLY (its own copy, no redirect), answers
 * the same to the same commands: the check that replicas applied the same writes, shared by the
 * differential and client suites.
 */
import { type NodeHandle, waitFor } from '../../support/cluster-harness.ts';
import { RawConn } from './resp-bytes.ts';

/** What a replica holds, read on a connection already in READONLY mode. */
export type ReplicaView = (conn: RawConn) => Promise<string>;

/**
 * Every node's view, once they are all alike and `settled` holds for them (the writes reached
 * every replica); times out after `timeoutMs` naming `what`. `reads` is either commands, whose raw
 * replies are joined with '|', or a view of the test's own (a SCAN walk, one INFO field).
 */
export async function replicasAgree(
  nodes: readonly NodeHandle[],
  reads: readonly (readonly string[])[] | ReplicaView,
  what: string,
  settled: (view: string) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<string> {
  const viewOf: ReplicaView =
    typeof reads === 'function'
      ? reads
      : async (conn) => {
          const out: string[] = [];
          for (const cmd of reads) out.push((await conn.call(...cmd)).toString('latin1'));
          return out.join('|');
        };
  const read = async (h: NodeHandle) => {
    const conn = await RawConn.open(h.port);
    try {
      await conn.call('readonly');
      return await viewOf(conn);
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
    timeoutMs,
    `every replica to hold the same ${what}`,
  );
  return views[0];
}
