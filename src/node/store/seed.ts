/**
 * How a group of a multi-group node begins (issue 13): from an image, never from an empty log.
 *
 * A new group's first state is written as a snapshot at `index` (term `term`) holding its
 * configuration, its address book and its state machine: the owned slots of its share of the
 * initial layout, or for group 0 the slot map. Every replica writes the same bytes, so the
 * replicas of a new group agree from its first index, and the core starts as a restarted node
 * would: applied = the snapshot's index, the configuration from its metadata. A split (one entry
 * in the parent's log) starts the new group the same way, from the parent's image at that entry.
 *
 * So a group's owned slots live in its own state (its snapshots, its log), never in a flag that
 * must be given again at every restart.
 */
import { type ConfState, NONE } from '../../raft/types.ts';
import type { LevelStorage } from '../../storage/index.ts';
import { envelopeHeader } from '../snapshotter.ts';

export interface GroupSeed {
  conf: ConfState;
  /** The address book, encoded (Members.encode). */
  members: Uint8Array;
  /** The state machine's image: a store's snapshot, or a split's image of the parent. */
  image: AsyncIterable<Uint8Array>;
  /** The snapshot's index and term: 1 and 1 for a group made at bootstrap. */
  index: number;
  term: number;
}

/** The snapshot bytes of a seed: the address book, then the state machine's image. */
export async function seedImage(seed: Pick<GroupSeed, 'members' | 'image'>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [envelopeHeader(seed.members)];
  // Copied: the writer may refill one buffer between chunks.
  for await (const chunk of seed.image) parts.push(Uint8Array.from(chunk));
  return Buffer.concat(parts);
}

/** Writes a new group's first state into its (empty) storage, durably. */
export async function seedGroup(storage: LevelStorage, seed: GroupSeed): Promise<void> {
  if (storage.lastIndex() !== 0 || storage.initialState().hardState.term !== 0) {
    throw new Error(`group storage ${storage.group} is not empty: a group is seeded once`);
  }
  const data = await seedImage(seed);
  const meta = { index: seed.index, term: seed.term, conf: seed.conf };
  await storage.save({ snapshot: { meta, data }, hardState: { term: seed.term, vote: NONE, commit: seed.index } });
}
