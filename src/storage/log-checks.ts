/**
 * The checks a write to the log passes before anything is planned (memory-log.ts): values the
 * record format cannot hold are refused up front, so encoding never fails halfway.
 */

import type { ConfState } from '../raft/types.ts';
import { EntryType } from '../raft/types.ts';
import { InvalidWriteError } from './errors.ts';
import type { SaveRequest } from './memory-log.ts';

const ENTRY_TYPES: ReadonlySet<unknown> = new Set(Object.values(EntryType));

/** Rejects values the record format cannot hold, so that encoding never fails halfway. */
export function checkRequest(req: SaveRequest): void {
  for (const e of req.entries ?? []) {
    checkNumber('entry index', e.index);
    checkNumber(`term of entry ${e.index}`, e.term);
    if (!ENTRY_TYPES.has(e.type)) throw new InvalidWriteError(`entry ${e.index} has unknown type ${String(e.type)}`);
    if (!(e.data instanceof Uint8Array)) throw new InvalidWriteError(`entry ${e.index} data is not a Uint8Array`);
  }
  if (req.hardState) {
    checkNumber('hard state term', req.hardState.term);
    checkNumber('commit index', req.hardState.commit);
    if (typeof req.hardState.vote !== 'string') throw new InvalidWriteError('hard state vote is not a string');
  }
  if (req.snapshot) {
    checkNumber('snapshot index', req.snapshot.meta.index);
    checkNumber('snapshot term', req.snapshot.meta.term);
    checkConf(req.snapshot.meta.conf);
    if (!(req.snapshot.data instanceof Uint8Array)) throw new InvalidWriteError('snapshot data is not a Uint8Array');
  }
}

export function checkConf(conf: ConfState): void {
  const ok = (a: unknown) => Array.isArray(a) && a.every((id) => typeof id === 'string');
  if (!ok(conf?.voters) || !ok(conf?.learners)) throw new InvalidWriteError('conf state must list voters and learners as strings');
}

export function checkNumber(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidWriteError(`${what} ${n} is not a non-negative integer`);
}
