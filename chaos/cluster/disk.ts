/**
 * A node's data directory on its own small ext4 file system in a loop-mounted image file, so
 * that the power nemesis can lose exactly what a power cut loses: whatever the node wrote but
 * did not fsync.
 *
 * Why this works: the node's writes sit in the ext4 page cache until writeback (up to
 * vm.dirty_expire_centisecs, 30 s by default) or an fsync pushes them down to the loop device,
 * which writes them into the image file. After kill -9, a copy of the image file therefore
 * holds what reached the "disk" and nothing else. Unmounting the live file system (which would
 * flush the rest) and mounting the copy instead (ext4 replays its journal, as after a power
 * cut) leaves the node with its durable state only.
 *
 * Limits: the copy is not atomic against writeback the kernel may start while it runs (a few
 * milliseconds); ext4's journal checksums make a torn journal tail stop the replay rather than
 * corrupt metadata. There is no device mapper in this kernel (no dm-flakey or dm-log-writes),
 * so writes cannot be dropped or reordered below the file system.
 */
import { mkdirSync, renameSync } from 'node:fs';
import { sh, shQuiet } from '../net/sh.ts';

const SIZE = '256M';

export class LoopDisk {
  private loop?: string;

  constructor(
    readonly image: string,
    readonly mountDir: string,
  ) {}

  /** Creates the image and mounts it at `mountDir`. */
  create(): void {
    sh(['truncate', '-s', SIZE, this.image]);
    sh(['mkfs.ext4', '-q', '-F', this.image]);
    this.mount();
  }

  private mount(): void {
    mkdirSync(this.mountDir, { recursive: true });
    this.loop = sh(['losetup', '-f', '--show', this.image]).trim();
    sh(['mount', this.loop, this.mountDir]);
  }

  private unmount(): void {
    if (!this.loop) return;
    shQuiet(['umount', this.mountDir]) || shQuiet(['umount', '-l', this.mountDir]);
    shQuiet(['losetup', '-d', this.loop]);
    this.loop = undefined;
  }

  /**
   * The power cut. Call with the node's process already dead: keeps the image's current
   * contents (what reached the device), throws away the page cache, and mounts the result.
   */
  loseUnsynced(): void {
    const crash = `${this.image}.crash`;
    sh(['cp', '--sparse=always', this.image, crash]);
    this.unmount();
    renameSync(crash, this.image);
    this.mount();
  }

  /** Synchronous, idempotent tear-down. */
  destroy(): void {
    this.unmount();
  }
}
