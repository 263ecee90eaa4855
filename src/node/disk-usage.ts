/**
 * Bytes a node's data directory takes on disk (LevelDB's tables, logs and manifest, snapshot
 * chunks): what `raftkv status` shows as the log size, and what fills a disk. Summed file sizes,
 * not blocks; a file that vanishes mid-walk (LevelDB compacting) counts as 0.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export async function diskUsage(dir: string): Promise<number> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await diskUsage(p);
    else if (e.isFile())
      total += await stat(p).then(
        (s) => s.size,
        () => 0,
      );
  }
  return total;
}
