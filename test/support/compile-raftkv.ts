/**
 * Compiles src/ as the container image does (scripts/tsconfig.image.json: emit only, type
 * checking is `npm run typecheck`'s job): for vitest's globalSetup, which points raftkvArgs
 * (raftkv-build.ts) at it through the environment the test workers inherit, and for the bench
 * (buildRaftKV), which measures the JavaScript that ships. `compileRevision` does the same for
 * a git revision, the A side of the bench's A/B tools (ab-write.ts, shards-ab.ts).
 *
 * The output folder is named by a hash of src/, so an unchanged tree reuses the last run's
 * build, and two runs at once never write into a folder the other's nodes are reading: a new
 * build is compiled beside it and renamed into place whole.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_BUILD_ENV } from './raftkv-build.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** Inside the repository, so the compiled files resolve its node_modules and package.json. */
const BUILDS = join(REPO, '.tmp', 'test-build');
/** Builds of other trees are removed once this old (a run still using one is long over). */
const STALE_MS = 24 * 3600_000;

function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(relative(REPO, p)).update('\0').update(readFileSync(p)).update('\0');
    }
  };
  walk(join(REPO, 'src'));
  for (const f of ['tsconfig.json', 'scripts/tsconfig.image.json', 'package.json']) h.update(readFileSync(join(REPO, f)));
  return h.digest('hex').slice(0, 16);
}

/**
 * Compiles the tree at `root` (its src/, scripts/tsconfig.image.json, package.json) into
 * `out`/dist, unless an earlier run did: through a scratch folder renamed into place whole.
 */
function compileInto(root: string, out: string): string {
  const main = join(out, 'dist', 'cli', 'main.js');
  if (existsSync(main)) return main;
  const scratch = `${out}.${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(BUILDS, { recursive: true });
  const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'scripts', 'tsconfig.image.json'), '--outDir', join(scratch, 'dist')], {
    cwd: root,
    stdio: 'inherit',
  });
  // The image's layout: package.json beside dist/, where src/node/version.ts reads it.
  copyFileSync(join(root, 'package.json'), join(scratch, 'package.json'));
  try {
    renameSync(scratch, out);
  } catch {
    // Another run renamed the same build into place first: use it.
    rmSync(scratch, { recursive: true, force: true });
  }
  return main;
}

/** The compiled src/cli/main.js of the tree as it is now, compiled if no earlier run did. */
export function compileRaftKV(): string {
  const out = join(BUILDS, sourceHash());
  const main = compileInto(REPO, out);
  for (const name of readdirSync(BUILDS)) {
    const p = join(BUILDS, name);
    if (p !== out && Date.now() - statSync(p).mtimeMs > STALE_MS) rmSync(p, { recursive: true, force: true });
  }
  return main;
}

/**
 * The compiled src/cli/main.js of git revision `rev` of this repository, compiled by its own
 * scripts/tsconfig.image.json. A revision never changes, so its build is kept by commit and
 * reused; it lives under the test builds, inside the repository, so the compiled files resolve
 * the repository's node_modules, and goes stale with them after a day.
 */
export function compileRevision(rev: string): string {
  const sha = execFileSync('git', ['rev-parse', '--short=12', `${rev}^{commit}`], { cwd: REPO, encoding: 'utf8' }).trim();
  const out = join(BUILDS, `rev-${sha}`);
  if (existsSync(join(out, 'dist', 'cli', 'main.js'))) return join(out, 'dist', 'cli', 'main.js');
  const tree = `${out}.tree.${process.pid}`;
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  try {
    execFileSync('sh', ['-c', `git archive ${sha} src scripts tsconfig.json package.json | tar -x -C ${JSON.stringify(tree)}`], { cwd: REPO });
    // tsc resolves the revision's imports of packages (types included) from here.
    symlinkSync(join(REPO, 'node_modules'), join(tree, 'node_modules'));
    return compileInto(tree, out);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

export default function setup(): void {
  process.env[TEST_BUILD_ENV] ??= compileRaftKV();
}
