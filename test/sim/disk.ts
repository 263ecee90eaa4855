/**
 * How writes land on a simulated node's storage. Pipelined, a node has two: the volatile image
 * the core reads, which LevelStorage updates the moment save() is called, and the disk, which
 * gets each write only when it is durable. A crash drops the image with every queued write, so a
 * restart, which copies the image from the disk, sees exactly what was durable; and the safety
 * monitor, looking only at the disk, judges durability honestly.
 */
import { type ConfState, MemoryStorage, type Ready } from '../../src/raft/index.ts';

/** A Ready's durable parts, written to one storage (the disk, or the image). */
export function write(s: MemoryStorage, rd: Ready): void {
  if (rd.snapshot) s.applySnapshot(rd.snapshot);
  s.append(rd.entries);
  if (rd.hardState) s.setHardState(rd.hardState);
}

export function snapshotAndCompact(s: MemoryStorage, index: number, conf: ConfState, data: Uint8Array, tail: number): void {
  s.createSnapshot(index, conf, data);
  // The storage's configuration must match the state a restart rebuilds: the snapshot's.
  s.setConfState(conf);
  const upTo = index - tail;
  if (upTo >= s.firstIndex()) s.compact(upTo);
}

/** The volatile image a restarted process loads from its disk: a copy it may run ahead of. */
export function imageOf(disk: MemoryStorage): MemoryStorage {
  const snap = disk.snapshot();
  const image = new MemoryStorage(snap.meta.conf);
  if (snap.meta.index > 0) image.applySnapshot(snap);
  if (disk.lastIndex() >= disk.firstIndex()) image.append(disk.entries(disk.firstIndex(), disk.lastIndex() + 1, Number.POSITIVE_INFINITY));
  const { hardState, confState } = disk.initialState();
  image.setHardState(hardState);
  image.setConfState(confState);
  return image;
}
