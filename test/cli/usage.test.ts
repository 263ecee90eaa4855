/**
 * Every `raftkv` command's help and exit codes, through the real CLI process: `--help` / `-h`
 * print usage on stdout with exit 0; an unknown command or option is one line on stderr naming
 * it, exit 2, and no stack trace (was: "unknown command '--help'", and an
 * ERR_PARSE_ARGS_UNKNOWN_OPTION stack trace from `raftkv cluster --help`).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BACKUP_VERSION } from '../../src/node/backup-file.ts';
import { SHARD_CODEC_VERSION } from '../../src/shard/codec.ts';
import { FORMAT_VERSION } from '../../src/storage/records.ts';
import { PROTOCOL_VERSION } from '../../src/transport/codec.ts';
import { runRaftkv } from '../support/raftkv-cli.ts';

const raftkv = (args: string[]) => runRaftkv(args);

/** One line on stderr, no stack trace, exit 2. */
function expectUsageError(r: { code: number | null; stderr: string; stdout: string }, text: string): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain(text);
  expect(r.stderr).not.toMatch(/\n\s+at |ERR_PARSE_ARGS/);
  expect(r.stdout).toBe('');
}

describe('raftkv help and exit codes', () => {
  it.each([['--help'], ['-h'], ['help']])('raftkv %s prints the commands, exit 0', async (arg) => {
    const r = await raftkv([arg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('usage: raftkv <command>');
    for (const c of ['start', 'cluster', 'status', 'snapshot', 'version']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.stderr).toBe('');
  });

  it.each([['version'], ['--version'], ['-v']])('raftkv %s prints the version and the formats an upgrade compares, exit 0', async (arg) => {
    const r = await raftkv([arg]);
    expect(r.code, r.stderr).toBe(0);
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(r.stdout).toBe(
      `raftkv ${version}\npeer protocol ${PROTOCOL_VERSION}\nstorage format ${FORMAT_VERSION}\n` +
        `slot map format ${SHARD_CODEC_VERSION}\nbackup format ${BACKUP_VERSION}\nnode ${process.version}\n`,
    );
    expect(r.stderr).toBe('');
  });

  it('no command, or an unknown one: usage on stderr, exit 2', async () => {
    const none = await raftkv([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('raftkv: no command');
    const unknown = await raftkv(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("raftkv: unknown command 'frobnicate'");
  });

  it.each([
    ['start', '--election-timeout'],
    ['cluster', '--base-port'],
    ['status', '--endpoints'],
    ['snapshot', '--data-dir'],
  ])('raftkv %s --help and -h print its options, exit 0', async (command, option) => {
    for (const flag of ['--help', '-h']) {
      const r = await raftkv([command, flag]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(option);
      expect(r.stderr).toBe('');
    }
  });

  it.each(['start', 'cluster', 'status'])('raftkv %s --bogus: one line naming the option, exit 2', async (command) => {
    const r = await raftkv([command, '--bogus', '1']);
    expectUsageError(r, `raftkv ${command}: unknown option '--bogus'`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a flag missing its value and an unexpected argument are one line, exit 2', async () => {
    expectUsageError(await raftkv(['cluster', '--nodes']), "raftkv cluster: option '--nodes <value>' argument missing");
    expectUsageError(await raftkv(['status', 'extra']), "raftkv status: unexpected argument 'extra'");
    expectUsageError(await raftkv(['start', 'extra']), "raftkv start: unexpected argument 'extra'");
  });

  it('raftkv cluster checks the node settings it passes on before starting anything', async () => {
    const r = await raftkv(['cluster', '--maxmemory', '100xb', '--data-dir', '/nonexistent/never-created']);
    expectUsageError(r, "raftkv cluster: invalid setting 'maxmemory': expected a byte size");
  });
});
