/**
 * Reads applied entries that the in-memory log moved out of memory (memory-log.ts trim) back
 * from LevelDB, for a follower that trails past the memory tail. One read at a time per group,
 * of at most READ_BYTES: the block replaces the previous one, so what a catching-up follower
 * costs in memory is bounded, and the core, told EntriesNotLoadedError meanwhile, asks again on
 * the follower's next response.
 *
 * A record that fails its checksum rejects the read (level-storage.ts logs it); nothing is kept,
 * and the follower waits, as it would for a dead disk.
 */
import type { Entry } from '../raft/types.ts';
import type { MemoryLog } from './memory-log.ts';
import { decodeEntry, RecordError } from './records.ts';
import { guard, type LevelDb, type Where } from './recover.ts';

/** Most bytes of entry records read back at once. */
export const READ_BYTES = 4 * 1024 * 1024;

/** Entries [lo, hi) as stored, in order, stopping short after READ_BYTES or at a gap. */
export async function readEntryRange(db: LevelDb, w: Where, lo: number, hi: number): Promise<Entry[]> {
  const out: Entry[] = [];
  if (lo >= hi) return out;
  const it = db.iterator({ gte: w.ks.entry(lo), lt: w.ks.entry(hi), highWaterMarkBytes: 1 << 20 });
  let bytes = 0;
  try {
    for (;;) {
      const batch = await guard(w, `entries from index ${lo}`, () => it.nextv(256));
      if (batch.length === 0) return out;
      for (const [key, value] of batch) {
        const index = w.ks.entryIndex(key);
        const expected = lo + out.length;
        // A gap: deleted by a compaction since the read began. The caller keeps what agrees.
        if (index !== expected) return out;
        try {
          out.push(decodeEntry(key, value, index));
        } catch (err) {
          if (err instanceof RecordError) throw new RecordError(`entry ${index}: ${err.message}`);
          throw err;
        }
        bytes += value.length;
        if (bytes >= READ_BYTES) return out;
      }
    }
  } finally {
    await it.close();
  }
}

/** One group's read-back: at most one read in flight; its block goes to the in-memory log. */
export class ReadBack {
  private reading = false;

  constructor(
    private readonly db: LevelDb,
    private readonly where: Where,
    private readonly log: Pick<MemoryLog, 'fill'>,
    private readonly error: (msg: string) => void,
  ) {}

  /** Starts reading [lo, hi) unless a read is under way (the core asks again later). */
  start(lo: number, hi: number): void {
    if (this.reading) return;
    this.reading = true;
    readEntryRange(this.db, this.where, lo, hi)
      .then(
        (entries) => this.log.fill(entries),
        (err: Error) => this.error(`cannot read entries from index ${lo} back from disk: ${err.message}`),
      )
      .finally(() => {
        this.reading = false;
      });
  }
}
