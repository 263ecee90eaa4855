/**
 * The queue workload's checks, after Jepsen's total-queue. Every element is unique (one LPUSH
 * each), so each sighting of it names the push it came from. A queue is judged with its
 * processing lists (`{q0}:processing:w3` belongs to `{q0}`). An element is seen by an
 * acknowledged pop (RPOP, BRPOP, or an LMOVE into a processing list), or in a final LRANGE of
 * the queue, or in a final LRANGE of a processing list it was not known to be moved into (an
 * indeterminate LMOVE's element, which the final read recovers). Then:
 * - duplicated: an element seen twice (popped twice, or popped and left in the queue), or still
 *   in a processing list after its worker's LREM removed it;
 * - unexpected: an element seen that no LPUSH (other than a failed one) sent;
 * - lost: an acknowledged LPUSH whose element is never seen. An indeterminate RPOP or BRPOP (no
 *   reply: the connection dropped or the reply timed out) may have popped one element that
 *   nobody saw, so up to that many missing elements are counted apart, as
 *   `indeterminatePopsTook` ("recovered or lost by an indeterminate pop", docs/chaos.md), and
 *   only more missing elements than indeterminate pops are lost. An indeterminate LMOVE excuses
 *   nothing: its element is either still in the queue or in the processing list;
 * - ack-missed: a worker's acknowledged LREM found nothing where its acknowledged LMOVE put the
 *   element.
 * Elements of indeterminate LPUSHes that show up are `recovered`. A queue any of whose final
 * LRANGEs never answered is not judged on lost elements.
 */
import { type ChaosOp, OpFn, OpStatus } from '../history/ops.ts';
import type { Anomaly, CheckResult } from './result.ts';

const QUEUE_OPS: ReadonlySet<string> = new Set([OpFn.Enqueue, OpFn.Dequeue, OpFn.Pop, OpFn.Move, OpFn.Ack, OpFn.Drain]);
/** Pops that take an element out of the store: an indeterminate one may have taken one unseen. */
const isPop = (o: ChaosOp) => o.f === OpFn.Dequeue || o.f === OpFn.Pop;
const queueOf = (key: string) => key.split(':processing:')[0];

export function checkQueue(ops: readonly ChaosOp[]): CheckResult {
  const queues = new Map<string, ChaosOp[]>();
  for (const o of ops) {
    if (!QUEUE_OPS.has(o.f)) continue;
    const q = queueOf(o.key);
    const list = queues.get(q);
    if (list) list.push(o);
    else queues.set(q, [o]);
  }
  const anomalies: Anomaly[] = [];
  const stats = {
    keys: queues.size,
    acknowledged: 0,
    indeterminatePushes: 0,
    popped: 0,
    moved: 0,
    workerAcks: 0,
    emptyPops: 0,
    indeterminatePops: 0,
    indeterminateMoves: 0,
    left: 0,
    inProcessing: 0,
    recovered: 0,
    indeterminatePopsTook: 0,
    lost: 0,
    duplicated: 0,
    unexpected: 0,
  };
  for (const [key, list] of queues) {
    const pushes = new Map<string, ChaosOp>();
    for (const o of list) if (o.f === OpFn.Enqueue && o.status !== OpStatus.Fail && o.value !== undefined) pushes.set(o.value, o);
    const acked = list.filter((o) => o.f === OpFn.Enqueue && o.status === OpStatus.Ok);
    stats.acknowledged += acked.length;
    stats.indeterminatePushes += list.filter((o) => o.f === OpFn.Enqueue && o.status === OpStatus.Info).length;
    const infoPops = list.filter((o) => isPop(o) && o.status === OpStatus.Info).length;
    stats.indeterminatePops += infoPops;
    stats.indeterminateMoves += list.filter((o) => o.f === OpFn.Move && o.status === OpStatus.Info).length;
    // Acknowledged moves and LREMs, by processing list and element.
    const movedTo = new Map<string, ChaosOp>();
    const removed = new Map<string, ChaosOp>();
    const seen = new Map<string, ChaosOp[]>();
    const see = (v: string, o: ChaosOp): void => {
      const at = seen.get(v);
      if (at === undefined) seen.set(v, [o]);
      else at.push(o);
    };
    for (const o of list) {
      if (o.status !== OpStatus.Ok) continue;
      if (isPop(o) || o.f === OpFn.Move) {
        if (o.result === null || o.result === undefined) stats.emptyPops++;
        else {
          if (o.f === OpFn.Move) {
            stats.moved++;
            movedTo.set(`${o.value}\n${o.result}`, o);
          } else stats.popped++;
          see(String(o.result), o);
        }
      } else if (o.f === OpFn.Ack) {
        stats.workerAcks++;
        removed.set(`${o.key}\n${o.value}`, o);
        const move = movedTo.get(`${o.key}\n${o.value}`);
        if (o.result === 0 && move !== undefined) {
          anomalies.push({ kind: 'ack-missed', key, message: `${o.key}: LREM of ${o.value} found nothing after its LMOVE`, ops: [move, o] });
        }
      }
    }
    // The latest answered final read of each list; undefined where none answered.
    const drains = new Map<string, ChaosOp | undefined>();
    for (const o of list) {
      if (o.f !== OpFn.Drain) continue;
      const best = drains.get(o.key);
      if (o.status === OpStatus.Ok && (best === undefined || o.return > best.return)) drains.set(o.key, o);
      else if (!drains.has(o.key)) drains.set(o.key, undefined);
    }
    for (const [list, drain] of drains) {
      if (drain === undefined) continue;
      for (const v of JSON.parse(String(drain.result)) as string[]) {
        if (list === key) {
          stats.left++;
          see(v, drain);
          continue;
        }
        stats.inProcessing++;
        const ack = removed.get(`${list}\n${v}`);
        if (ack !== undefined && ack.result !== 0) {
          stats.duplicated++;
          anomalies.push({ kind: 'duplicate', key, message: `${list}: element ${v} is still there after its LREM removed it`, ops: [ack, drain] });
        }
        // Moved there by an acknowledged LMOVE: the same sighting, not a second one.
        if (!movedTo.has(`${list}\n${v}`)) see(v, drain);
      }
    }
    for (const [v, at] of seen) {
      const push = pushes.get(v);
      if (push === undefined) {
        stats.unexpected++;
        anomalies.push({ kind: 'unexpected', key, message: `${key}: element ${v} was never pushed`, ops: at.slice(0, 2) });
      } else if (push.status === OpStatus.Info) stats.recovered++;
      if (at.length > 1) {
        stats.duplicated++;
        anomalies.push({
          kind: 'duplicate',
          key,
          message: `${key}: element ${v} was popped (or left) ${at.length} times`,
          ops: [...(push ? [push] : []), ...at],
        });
      }
    }
    if (!drains.has(key) || [...drains.values()].includes(undefined)) continue;
    const missing = acked.filter((o) => !seen.has(o.value ?? ''));
    const took = Math.min(missing.length, infoPops);
    stats.indeterminatePopsTook += took;
    if (missing.length > infoPops) {
      stats.lost += missing.length - infoPops;
      anomalies.push({
        kind: 'lost',
        key,
        message: `${key}: ${missing.length} acknowledged pushes were neither popped nor left, but only ${infoPops} pops were indeterminate`,
        ops: missing.slice(0, 5),
      });
    }
  }
  return { checker: 'queue', valid: anomalies.length === 0, anomalies, stats };
}
