/** The RESP target: sessions of resp.ts on raw TCP connections to the node's RESP port. */
import { DEFAULT_EXCLUDED, RespCommands, respSession, type StreamSession } from './resp.ts';
import type { Rng } from './rng.ts';
import { sendStream } from './stream.ts';
import type { Counters, NodeInfo, Target } from './target.ts';

export class RespTarget implements Target<StreamSession> {
  private readonly cmds: RespCommands;
  private port = 0;

  constructor(
    private readonly password: string,
    excluded: readonly string[] = DEFAULT_EXCLUDED,
  ) {
    this.cmds = new RespCommands(excluded);
  }

  async prepare(node: NodeInfo): Promise<void> {
    this.port = node.port;
  }

  generate(rng: Rng, first: number, maxFrames: number): StreamSession {
    return respSession(rng, this.cmds, first, maxFrames, this.password);
  }

  send(s: StreamSession, counters: Counters, onClosed: () => void): Promise<void> {
    return sendStream(this.port, s, counters, onClosed);
  }

  bytesOf(s: StreamSession): Buffer[] {
    return s.writes;
  }
}
