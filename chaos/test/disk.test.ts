/** The power nemesis's disk really loses what was not fsynced. Needs root and loop devices. */
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoopDisk } from '../cluster/disk.ts';
import { hasCommand } from '../net/sh.ts';

const usable = process.getuid?.() === 0 && existsSync('/dev/loop-control') && hasCommand('mkfs.ext4') && hasCommand('losetup');

function write(file: string, text: string, sync: boolean): void {
  const fd = openSync(file, 'a');
  writeSync(fd, text);
  if (sync) fsyncSync(fd);
  closeSync(fd);
}

describe.skipIf(!usable)('loop disk power loss', () => {
  const root = mkdtempSync(join(tmpdir(), 'rkvc-disk-'));
  const disk = new LoopDisk(join(root, 'img'), join(root, 'mnt'));

  afterAll(() => {
    disk.destroy();
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps fsynced data and loses the rest', () => {
    disk.create();
    const synced = join(root, 'mnt', 'synced');
    const lost = join(root, 'mnt', 'lost');
    write(synced, 'durable', true);
    // The new directory entry must be durable too, as any careful writer would make it.
    const dir = openSync(join(root, 'mnt'), 'r');
    fsyncSync(dir);
    closeSync(dir);
    write(synced, ' and not', false);
    write(lost, 'never synced', false);
    disk.loseUnsynced();
    expect(readFileSync(synced, 'utf8')).toBe('durable');
    expect(existsSync(lost)).toBe(false);
  });
});
