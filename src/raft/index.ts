export { applyToConfState, decodeConfChange, encodeConfChange, validateConfChange } from './conf-change.ts';
export { ENTRY_OVERHEAD, entrySize } from './entry-size.ts';
export { MemoryStorage } from './memory-storage.ts';
export { RawNode } from './raw-node.ts';
export type { Storage } from './storage.ts';
export * from './types.ts';
