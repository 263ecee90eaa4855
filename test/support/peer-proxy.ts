/**
 * A TCP relay in front of one node's peer port (its HTTP port), for tests that must cut what a
 * node hears without touching what it says: every peer dials the relay, so `deafen` drops all
 * Raft messages to the node (links close, redials are refused) while its own messages still
 * reach the others, whose relays stay open. It works at the connection level, as an iptables
 * INPUT rule in the chaos suite does, but needs no root. Clients keep using the real port.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class PeerProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private deaf = false;

  private constructor(private readonly target: number) {
    this.server = createServer((inbound) => this.relay(inbound));
  }

  /** Listens on `port` (loopback) and relays to `target` on loopback. */
  static async open(port: number, target: number): Promise<PeerProxy> {
    const p = new PeerProxy(target);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(port, '127.0.0.1', () => resolve());
    });
    return p;
  }

  private relay(inbound: Socket): void {
    if (this.deaf) {
      inbound.destroy();
      return;
    }
    const outbound = connect(this.target, '127.0.0.1');
    for (const s of [inbound, outbound]) {
      this.sockets.add(s);
      s.setNoDelay(true);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  }

  /** From now on the node hears nothing through this relay: open links are cut, new ones refused. */
  deafen(): void {
    this.deaf = true;
    for (const s of this.sockets) s.destroy();
  }

  hearAgain(): void {
    this.deaf = false;
  }

  close(): Promise<void> {
    this.deafen();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
