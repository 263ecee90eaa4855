/**
 * Differential test of the blocking pops (issue 14) against a real redis-server 7.0: argument
 * errors (timeouts included), the non-blocking paths, timeouts that pass, MULTI's non-blocking
 * forms, RESP3 nulls, and clients served in the order they blocked. Every reply compared as
 * bytes, on a one-node RaftKV and on redis-server side by side.
 */
import { describe, it } from 'vitest';
import { c, pause, pending } from './support/script.ts';
import { sideBySide } from './support/side-by-side.ts';

const pair = sideBySide();
const run = pair.run;

describe('blocking pops match redis-server', () => {
  it('argument errors: arity, timeouts, sides, numkeys and COUNT', async () => {
    await run([
      c('blpop'),
      c('blpop q'),
      c('brpop q x'),
      c('blpop q -1'),
      c('blpop q -0.5'),
      c('blpop q nan'),
      c('blpop q inf'),
      c('blpop q -inf'),
      c('blpop q 1e30'),
      c('blpop q 1\\s'),
      c('blpop q \\s1'),
      c('blpop q 1\\0'),
      c('blmove q d left right x'),
      c('blmove q d up right 0'),
      c('blmove q d left down x'),
      c('blmove q d left'),
      c('blmpop x 1 q left'),
      c('blmpop 0 0 q left'),
      c('blmpop 0 -1 q left'),
      c('blmpop 0 x q left'),
      c('blmpop 0 2 q left'),
      c('blmpop 0 1 q middle'),
      c('blmpop 0 1 q left count 0'),
      c('blmpop 0 1 q left count -1'),
      c('blmpop 0 1 q left count x'),
      c('blmpop 0 1 q left count'),
      c('blmpop 0 1 q left count 1 count 2'),
      c('blmpop 0 1 q left extra'),
      c('blmpop -1 1 q left'),
    ]);
  });

  it('non-blocking paths: keys that hold elements answer at once, in key order; WRONGTYPE', async () => {
    await run([
      c('rpush q a b c d e f'),
      c('blpop q 0'),
      c('brpop q 0'),
      c('blpop none q 0'),
      c('brpop none1 none2 q 1.5'),
      c('blmove q d left right 0'),
      c('blmove q d right left 0'),
      c('lrange d 0 -1'),
      c('rpush q x y'),
      c('blmove q q left right 0'),
      c('lrange q 0 -1'),
      c('rpush q2 x y z'),
      c('blmpop 0 2 none q2 left count 2'),
      c('blmpop 0 2 q2 q right count 10'),
      c('blmpop 0 1 q left'),
      c('exists q q2'),
      c('set s x'),
      c('blpop s q 0'),
      c('blpop none s 0'),
      c('rpush q a'),
      c('blpop q s 0'),
      c('rpush q a'),
      c('blmove q s left left 0'),
      c('lrange q 0 -1'),
      c('blmove s q left left 0'),
      c('blmpop 0 2 s q left'),
    ]);
  });

  it('timeouts pass with a null reply (RESP2 and RESP3)', async () => {
    await run([
      c('blpop e 0.05'),
      c('brpop e1 e2 0.05'),
      c('blmove e d left left 0.05'),
      c('blmpop 0.05 2 e e2 right count 3'),
      c('hello 3', { compare: () => null }),
      c('blpop e 0.05'),
      c('blmove e d left left 0.05'),
      c('blmpop 0.05 1 e left'),
    ]);
  });

  it('MULTI runs the non-blocking forms', async () => {
    await run([
      c('multi'),
      c('blpop e 0'),
      c('brpop e 0'),
      c('blmove e d left left 0'),
      c('blmpop 0 1 e left'),
      c('rpush e a b c'),
      c('blpop e 0'),
      c('blmove e d right left 0'),
      c('blmpop 0 1 e left count 5'),
      c('exec'),
      c('multi'),
      c('blpop e x'),
      c('exec'),
    ]);
  });

  it('blocked clients are served in the order they blocked, one element each', async () => {
    await run([
      c('blpop q 0', { on: 1, replies: 0 }),
      pause(100),
      c('brpop q 0', { on: 2, replies: 0 }),
      pause(100),
      c('blmpop 0 1 q left count 2', { on: 3, replies: 0 }),
      pause(100),
      c('blmove q d left right 0', { on: 4, replies: 0 }),
      pause(100),
      c('rpush q a b c d e'),
      pending(1),
      pending(2),
      pending(3),
      pending(4),
      c('lrange q 0 -1'),
      c('lrange d 0 -1'),
      // One client on two keys: served by whichever gets an element first.
      c('blpop k1 k2 0', { on: 1, replies: 0 }),
      pause(100),
      c('rpush k2 x'),
      pending(1),
      c('exists k1 k2'),
    ]);
  });

  it('sorted sets: BZPOPMIN, BZPOPMAX, BZMPOP (errors, at once, timeouts, MULTI, RESP3, FIFO)', async () => {
    await run([
      c('bzpopmin z x'),
      c('bzpopmax z -1'),
      c('bzmpop 0 0 z min'),
      c('bzmpop 0 1 z middle'),
      c('bzmpop 0 1 z min count 0'),
      c('zadd z 1 a 2 b 3 c 4.5 d'),
      c('bzpopmin none z 0'),
      c('bzpopmax z 0'),
      c('bzmpop 0 2 none z max count 5'),
      c('bzpopmin z 0.05'),
      c('bzmpop 0.05 1 z min'),
      c('set s x'),
      c('bzpopmin s 0'),
      c('multi'),
      c('bzpopmin z 0'),
      c('zadd z 7 m'),
      c('bzmpop 0 1 z min'),
      c('exec'),
      c('bzpopmin q 0', { on: 1, replies: 0 }),
      pause(100),
      c('bzmpop 0 1 q max count 2', { on: 2, replies: 0 }),
      pause(100),
      c('zadd q 1 x 2 y 3 z'),
      pending(1),
      pending(2),
      c('hello 3', { compare: () => null }),
      c('zadd z 1.5 a 2 b'),
      c('bzpopmax z 0'),
      c('bzmpop 0 1 z min'),
      c('bzpopmin z 0.05'),
    ]);
  });
});
