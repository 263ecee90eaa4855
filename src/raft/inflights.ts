/**
 * The App messages sent to one follower in the replicate state and not yet acknowledged,
 * identified by the last index each carried. Full means: stop sending until acks free room.
 */
export class Inflights {
  private items: { index: number; bytes: number }[] = [];
  private bytes = 0;

  constructor(
    private readonly maxCount: number,
    /** 0 means no byte limit. */
    private readonly maxBytes: number,
  ) {}

  add(index: number, bytes: number): void {
    this.items.push({ index, bytes });
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `index` (they are acknowledged). */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.items.length && this.items[n].index <= index) {
      this.bytes -= this.items[n].bytes;
      n++;
    }
    if (n > 0) this.items = this.items.slice(n);
  }

  full(): boolean {
    return this.items.length >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  count(): number {
    return this.items.length;
  }

  reset(): void {
    this.items = [];
    this.bytes = 0;
  }
}
