/**
 * The latest snapshot's data, in memory only while someone needs it.
 *
 * A snapshot image is as large as the whole keyspace (85 MB for 1M keys), and a node needs it
 * only to send it to a follower that fell behind the log, or once at start-up to restore its state
 * machine. Keeping it resident doubled the memory the keys themselves take, so the storage keeps
 * just the metadata and reads the data back from LevelDB on demand. A read image stays for
 * `lingerMs` after its last use, which covers the core's retries while one transfer is under way
 * and a second lagging follower asking soon after; a newer snapshot drops it at once.
 */
import type { Snapshot } from '../raft/types.ts';

export class SnapshotCache {
  private image: Snapshot | undefined;
  private loading: { index: number; promise: Promise<Snapshot> } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly lingerMs: number) {}

  /** The data of the snapshot at `index`, if it is in memory; a hit keeps it there for longer. */
  get(index: number): Snapshot | undefined {
    if (this.image?.meta.index !== index) return undefined;
    this.touch();
    return this.image;
  }

  /**
   * The snapshot at `snap.meta.index`, from memory or from `read`. Concurrent calls for the same
   * index share one read. `current` tells, once the read is done, whether the snapshot is still
   * the latest: an image replaced meanwhile is returned to this caller but not kept.
   */
  load(index: number, read: () => Promise<Snapshot>, current: () => boolean): Promise<Snapshot> {
    const hit = this.get(index);
    if (hit) return Promise.resolve(hit);
    if (this.loading?.index === index) return this.loading.promise;
    const promise = read().then((snap) => {
      if (current()) this.keep(snap);
      return snap;
    });
    this.loading = { index, promise };
    const done = () => {
      if (this.loading?.promise === promise) this.loading = undefined;
    };
    promise.then(done, done);
    return promise;
  }

  /** Keeps `snap` (e.g. the image read at open) for the linger time. */
  keep(snap: Snapshot): void {
    this.image = snap;
    this.touch();
  }

  /** Drops the image: a newer snapshot replaced it, or the storage is closing. */
  clear(): void {
    this.image = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.clear(), this.lingerMs);
    // Never keep the process alive just to drop a cache.
    this.timer.unref();
  }
}
