/**
 * The strict reconfiguration check alone (src/node/reconfig-check.ts): a change is refused when
 * the voters it is proposed under have no active quorum to commit it, or the voters after it
 * would have none, and allowed otherwise (the cases the simulator and etcd's rule name).
 */
import { describe, expect, it } from 'vitest';
import { quorum, type ReconfigVerb, unsafeReconfig } from '../../src/node/reconfig-check.ts';

const up =
  (...ids: string[]) =>
  (id: string) =>
    ids.includes(id);

describe('unsafeReconfig', () => {
  it('quorum is a strict majority', () => {
    expect([1, 2, 3, 4, 5].map(quorum)).toEqual([1, 2, 2, 3, 3]);
  });

  it.each<[string, ReconfigVerb, string, string[], string[], string[], RegExp | undefined]>([
    [
      '2 voters, remove the down one: cannot commit',
      'removing',
      'n2',
      ['n1', 'n2'],
      ['n1'],
      ['n1'],
      /^removing n2 would leave 1 of 2 voters active to commit it, short of a quorum of 2 \(not heard from within an election timeout: n2\); a change that cannot commit would wedge the cluster; pass force/,
    ],
    ['2 voters both up, remove one', 'removing', 'n2', ['n1', 'n2'], ['n1'], ['n1', 'n2'], undefined],
    ['3 voters one down, remove the down one: 2 of 2 remain', 'removing', 'n3', ['n1', 'n2', 'n3'], ['n1', 'n2'], ['n1', 'n2'], undefined],
    [
      '3 voters one down, remove a live one: 1 of 2 left',
      'removing',
      'n2',
      ['n1', 'n2', 'n3'],
      ['n1', 'n3'],
      ['n1', 'n2'],
      /^removing n2 would leave 1 of 2 voters active, short of a quorum of 2 \(not heard from within an election timeout: n3\); the cluster could not commit anything after it; pass force/,
    ],
    ['3 voters one down, remove the leader itself', 'removing', 'n1', ['n1', 'n2', 'n3'], ['n2', 'n3'], ['n1', 'n2'], /would leave 1 of 2 voters active/],
    ['1 voter, promote a live learner', 'promoting', 'n2', ['n1'], ['n1', 'n2'], ['n1', 'n2'], undefined],
    [
      '1 voter, promote a quiet learner: 1 of 2',
      'promoting',
      'n2',
      ['n1'],
      ['n1', 'n2'],
      ['n1'],
      /^promoting n2 would leave 1 of 2 voters active, short of a quorum of 2/,
    ],
    ['3 voters one down, promote a live learner: 3 of 4', 'promoting', 'n4', ['n1', 'n2', 'n3'], ['n1', 'n2', 'n3', 'n4'], ['n1', 'n2', 'n4'], undefined],
    [
      '3 voters two down, add a learner: cannot commit',
      'adding',
      'n4',
      ['n1', 'n2', 'n3'],
      ['n1', 'n2', 'n3'],
      ['n1'],
      /^adding n4 would leave 1 of 3 voters active to commit it, short of a quorum of 2 \(not heard from within an election timeout: n2, n3\)/,
    ],
    ['3 voters one down, add a learner', 'adding', 'n4', ['n1', 'n2', 'n3'], ['n1', 'n2', 'n3'], ['n1', 'n2'], undefined],
  ])('%s', (_, verb, id, before, after, active, refused) => {
    const why = unsafeReconfig(verb, id, before, after, up(...active));
    if (refused) expect(why).toMatch(refused);
    else expect(why).toBeUndefined();
  });
});
