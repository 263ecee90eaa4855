/**
 * The program runner every redis-cli test goes through. A program that exits without reading its
 * stdin once crashed a CI run with an unhandled EPIPE (dump-restore.test.ts, redis-cli -x).
 */
import { describe, expect, it } from 'vitest';
import { redisCli, runProgram } from './programs.ts';

describe('runProgram', () => {
  it('input to a program that exits without reading it: its exit code and output, no EPIPE', async () => {
    // 4 MiB is far past a pipe's buffer, so the write outlives `true` however the race goes.
    for (let i = 0; i < 5; i++) {
      const r = await runProgram('sh', ['-c', 'echo gone'], Buffer.alloc(4 << 20, 'x'));
      expect(r).toMatchObject({ code: 0, out: 'gone\n', err: '' });
    }
  });

  it('gives back a non-zero exit and stderr; the redis-cli wrapper rejects with them', async () => {
    expect(await runProgram('sh', ['-c', 'echo bad >&2; exit 3'])).toMatchObject({ code: 3, out: '', err: 'bad\n' });
    await expect(redisCli(['-p', '1', 'ping'])).rejects.toThrow(/redis-cli -p 1 ping exited 1: .*Connection refused/);
  });

  it('a missing program rejects, naming it', async () => {
    await expect(runProgram('no-such-program-raftkv', [])).rejects.toThrow(/cannot run no-such-program-raftkv/);
  });
});
