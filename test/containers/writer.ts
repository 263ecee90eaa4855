/**
 * A client that writes distinct keys one after another for as long as it runs, retrying
 * through whichever node is up, and remembers exactly which writes were acknowledged.
 */
import type { ContainerCluster } from './cluster.ts';

export class Writer {
  readonly acked: string[] = [];
  failures = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly cluster: ContainerCluster,
    private readonly prefix: string,
  ) {
    this.loop = this.run();
  }

  static valueOf(key: string): string {
    return `value-of-${key}`;
  }

  private async run(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const key = `${this.prefix}${i}`;
      // A write that fails or times out is not acknowledged and may or may not have happened;
      // only acknowledged ones are checked afterwards.
      const ok = await this.cluster.put(key, Writer.valueOf(key)).catch(() => false);
      if (ok) this.acked.push(key);
      else {
        this.failures++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
