/**
 * Failover timing on the RaftKV cluster: signal the leader (SIGKILL or SIGTERM), then probe
 * every surviving node with SETs until one answers +OK; the time from the signal to that +OK
 * is how long writes were unavailable. The node is restarted and the cluster settles between trials.
 */
import type { ClusterHarness, NodeHandle } from '../support/cluster-harness.ts';
import { sleep } from './procs.ts';
import { RespClient } from './resp-client.ts';

const PROBE_TIMEOUT_MS = 250;

class ProbeTimeoutError extends Error {
  constructor() {
    super('probe timed out');
  }
}

/** Resolves with the time of the first +OK from any of `nodes`, probing each in its own loop. */
async function firstWriteOk(nodes: NodeHandle[], deadlineMs: number): Promise<number> {
  let done = false;
  const loops = nodes.map(async (h) => {
    let client: RespClient | undefined;
    let i = 0;
    while (!done && performance.now() < deadlineMs) {
      try {
        client ??= await RespClient.connect(h.port, PROBE_TIMEOUT_MS);
        const c = client;
        const reply = await Promise.race([
          c.command('SET', 'failover:probe', String(i++)),
          sleep(PROBE_TIMEOUT_MS).then(() => {
            throw new ProbeTimeoutError();
          }),
        ]);
        if (reply === 'OK') {
          done = true;
          client.close();
          return performance.now();
        }
      } catch {
        // A hung or refused connection: reconnect so replies never pair with the wrong request.
        client?.close();
        client = undefined;
      }
      await sleep(2);
    }
    client?.close();
    return Number.POSITIVE_INFINITY;
  });
  return Math.min(...(await Promise.all(loops)));
}

export async function failoverTrial(h: ClusterHarness, signal: 'SIGKILL' | 'SIGTERM'): Promise<number> {
  const leader = await h.waitLeader(20_000, h.nodes);
  await sleep(300);
  const survivors = h.nodes.filter((n) => n !== leader);
  const exited = h.signal(leader, signal);
  const t0 = performance.now();
  const okAt = await firstWriteOk(survivors, t0 + 15_000);
  await exited;
  await h.restart(leader);
  await h.waitLeader(20_000, h.nodes);
  return okAt - t0;
}

export async function failoverTrials(h: ClusterHarness, signal: 'SIGKILL' | 'SIGTERM', trials: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < trials; i++) out.push(await failoverTrial(h, signal));
  return out;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
