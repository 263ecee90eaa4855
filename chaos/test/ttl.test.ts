import { describe, expect, it } from 'vitest';
import { checkTtl } from '../check/ttl.ts';
import { history, op } from './ops.ts';

const set = (status: 'ok' | 'fail' | 'info', call: number, ret: number, ttl = 1000) => op('set-px', 'k', status, call, ret, { value: 'v', ttl });
const read = (v: string | null, call: number, ret: number) => op('get', 'k', 'ok', call, ret, { result: v });

describe('ttl checker', () => {
  it('accepts the value before expiry and nil after', () => {
    const r = checkTtl(history(set('ok', 0, 10), read('v', 20, 25), read('v', 1005, 1006), read(null, 1020, 1021)), { skewMs: 0 });
    expect(r.anomalies).toEqual([]);
    expect(r.stats).toMatchObject({ readsAfterExpiry: 1, readsBeforeExpiry: 1 });
  });

  it('flags a value read after its latest possible expiry', () => {
    const r = checkTtl(history(set('ok', 0, 10), read('v', 1100, 1101)), { skewMs: 0 });
    expect(r.anomalies.map((a) => a.kind)).toEqual(['read-after-expiry']);
  });

  it('allows twice the skew bound either way', () => {
    const late = history(set('ok', 0, 10), read('v', 1100, 1101));
    expect(checkTtl(late, { skewMs: 100 }).valid).toBe(true);
    expect(checkTtl(late, { skewMs: 30 }).valid).toBe(false);
    const early = history(set('ok', 0, 10), read(null, 700, 750));
    expect(checkTtl(early, { skewMs: 200 }).valid).toBe(true);
    expect(checkTtl(early, { skewMs: 100 }).anomalies.map((a) => a.kind)).toEqual(['early-expiry']);
  });

  it('flags a failed write that became visible, and ignores the bounds of an indeterminate one', () => {
    expect(checkTtl(history(set('fail', 0, 10), read('v', 20, 21)), { skewMs: 0 }).anomalies.map((a) => a.kind)).toEqual(['failed-write-visible']);
    expect(checkTtl(history(set('info', 0, 3000), read('v', 5000, 5001)), { skewMs: 0 }).valid).toBe(true);
  });
});
