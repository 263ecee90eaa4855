/** Redis Cluster key slots: the function lives in the kv layer (a group owns slots); re-exported here for the front end. */
export { crc16, keyHashSlot, SLOT_COUNT } from '../kv/slot.ts';
