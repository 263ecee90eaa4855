import { describe, expect, it } from 'vitest';
import { asymmetric, bridge, halves, isolateLeader, majoritiesRing } from '../nemesis/partition.ts';
import type { Cut } from '../net/firewall.ts';
import { Random } from '../random.ts';

const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

/** Who each node still hears, given the cuts. */
function hears(members: string[], cuts: Cut[]): Map<string, Set<string>> {
  const out = new Map(members.map((m) => [m, new Set(members)]));
  for (const c of cuts) out.get(c.to)!.delete(c.from);
  return out;
}

describe('partition shapes', () => {
  it('isolates the leader both ways', () => {
    const p = isolateLeader(five, 'n3');
    const h = hears(five, p.cuts);
    expect([...h.get('n3')!]).toEqual(['n3']);
    for (const m of five.filter((x) => x !== 'n3')) expect(h.get(m)!.has('n3')).toBe(false);
  });

  it('splits into a minority and a majority', () => {
    const p = halves(five, new Random(1));
    const h = hears(five, p.cuts);
    const sizes = five.map((m) => h.get(m)!.size).sort();
    expect(sizes).toEqual([2, 2, 3, 3, 3]);
  });

  it('gives every node a different majority in a ring of five', () => {
    const p = majoritiesRing(five, new Random(7));
    const h = hears(five, p.cuts);
    const views = five.map((m) => [...h.get(m)!].sort().join(','));
    for (const v of views) expect(v.split(',')).toHaveLength(3);
    expect(new Set(views).size).toBe(5);
    for (const c of p.cuts) expect(p.cuts).toContainEqual({ from: c.to, to: c.from, mode: 'all' });
  });

  it('degrades to a bridge for three nodes: the middle node hears both sides', () => {
    const p = bridge(['a', 'b', 'c'], new Random(3));
    const h = hears(['a', 'b', 'c'], p.cuts);
    expect(h.get(p.nodes[0])!.size).toBe(3);
    expect(p.cuts).toHaveLength(2);
    expect(majoritiesRing(['a', 'b', 'c'], new Random(3)).cuts).toHaveLength(2);
  });

  it('cuts one direction of Raft messages only', () => {
    for (let seed = 0; seed < 4; seed++) {
      const p = asymmetric(five, 'n1', new Random(seed));
      expect(p.cuts).toHaveLength(4);
      expect(p.cuts.every((c) => c.mode === 'messages')).toBe(true);
      const mute = p.cuts.every((c) => c.from === 'n1');
      const deaf = p.cuts.every((c) => c.to === 'n1');
      expect(mute !== deaf).toBe(true);
    }
  });
});
