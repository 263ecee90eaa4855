/**
 * Redis Cluster key slots: the function lives in the kv layer (src/kv/slot.ts), since a group's
 * state machine owns slots; the front end uses it from here.
 */
export { crc16, keyHashSlot, SLOT_COUNT } from '../kv/slot.ts';
