/** Collects the history in memory and streams it to history.jsonl as operations complete. */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { ChaosOp } from './ops.ts';

export class Recorder {
  readonly ops: ChaosOp[] = [];
  private fd: number | undefined;
  private nextProcess = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'w');
  }

  /** A fresh logical client number. */
  process(): number {
    return this.nextProcess++;
  }

  record(op: Omit<ChaosOp, 'index'>): ChaosOp {
    const full = { index: this.ops.length, ...op } as ChaosOp;
    this.ops.push(full);
    if (this.fd !== undefined) writeSync(this.fd, `${JSON.stringify(full)}\n`);
    return full;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
