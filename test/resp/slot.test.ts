import { describe, expect, it } from 'vitest';
import { crc16, keyHashSlot } from '../../src/resp/slot.ts';

describe('CRC16-XMODEM', () => {
  it('matches the Redis Cluster specification test vector', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
  });

  it('is 0 for no bytes and covers the full 16 bits', () => {
    expect(crc16(Buffer.alloc(0))).toBe(0);
    expect(crc16(Buffer.from([0xff, 0xff]))).toBe(0x1d0f);
  });
});

describe('keyHashSlot', () => {
  it('gives the slots Redis gives (CLUSTER KEYSLOT)', () => {
    expect(keyHashSlot('foo')).toBe(12182);
    expect(keyHashSlot('bar')).toBe(5061);
    expect(keyHashSlot('somekey')).toBe(11058);
    expect(keyHashSlot('')).toBe(0);
  });

  it('hashes only the hash tag when there is one', () => {
    expect(keyHashSlot('{user1000}.following')).toBe(keyHashSlot('{user1000}.followers'));
    expect(keyHashSlot('{user1000}.following')).toBe(keyHashSlot('user1000'));
    expect(keyHashSlot('foo{bar}baz')).toBe(keyHashSlot('bar'));
  });

  it('follows the edge rules of the specification', () => {
    // Empty tag: the whole key is hashed.
    expect(keyHashSlot('foo{}{bar}')).toBe(crc16(Buffer.from('foo{}{bar}')) & 16383);
    // The first { and the first } after it delimit the tag.
    expect(keyHashSlot('foo{{bar}}zap')).toBe(keyHashSlot('{bar'));
    expect(keyHashSlot('foo{bar}{zap}')).toBe(keyHashSlot('bar'));
    // No closing brace: the whole key.
    expect(keyHashSlot('foo{bar')).toBe(crc16(Buffer.from('foo{bar')) & 16383);
    expect(keyHashSlot('}foo{')).toBe(crc16(Buffer.from('}foo{')) & 16383);
  });

  it('works on binary keys', () => {
    const key = Buffer.from([0x7b, 0xff, 0x00, 0x7d, 0x01]);
    expect(keyHashSlot(key)).toBe(crc16(Buffer.from([0xff, 0x00])) & 16383);
  });
});
