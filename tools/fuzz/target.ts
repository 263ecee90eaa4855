/**
 * What the runner needs from a target (resp.ts, http.ts, peer.ts): a pure generator of
 * sessions and a sender for them, plus the node settings and set-up the target needs.
 */
import type { Rng } from './rng.ts';

/** A run of consecutive iterations sent on one connection. */
export interface Session {
  /** The first iteration this session counts for (its generator is seeded with it). */
  first: number;
  frames: number;
}

export interface Counters {
  replyBytes: number;
  /** Sessions the node closed before the fuzzer ended them. */
  serverClosed: number;
}

export interface NodeInfo {
  pid: number;
  port: number;
  httpPort: number;
  nodeId: string;
  clusterId: string;
  clusterSecret: string;
  password: string;
}

export interface Target<S extends Session = Session> {
  /** After the node is up and before the first session (fetch a schema, add a member...). */
  prepare(node: NodeInfo): Promise<void>;
  /** The session starting at iteration `first`, at most `maxFrames` long; pure in `rng`. */
  generate(rng: Rng, first: number, maxFrames: number): S;
  /**
   * Sends a session; resolves when the next session may start. `onClosed` runs once its
   * connection is gone (later, for a client left open without reading).
   */
  send(session: S, counters: Counters, onClosed: () => void): Promise<void>;
  /** The bytes of a session, for a crash record. */
  bytesOf(session: S): Buffer[];
  /**
   * Whether a stall that began at `startedAt` (ms) counts; absent: always. The peer target's
   * authenticated phase answers no: a member may stall a cluster by design.
   */
  countsStall?(startedAt: number): boolean;
}
