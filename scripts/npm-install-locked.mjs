// Installs exactly what package-lock.json pins; the Dockerfile's install step. Arguments go to npm.
//
// `npm ci` is the normal way. It refuses a lock that lacks other platforms' optional packages
// (@biomejs/cli-win32-x64, @msgpackr-extract/msgpackr-extract-darwin-arm64, ...), and that is
// the only lock a registry mirror serving just this platform's packages can produce. When those
// are the only complaints, `npm install --no-save` installs the same locked versions and leaves
// the lock alone. Any other complaint (a dependency added without updating the lock) fails.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const ci = spawnSync('npm', ['ci', ...args], { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
if (ci.status === 0) process.exit(0);

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const optional = new Set(Object.values(lock.packages ?? {}).flatMap((p) => Object.keys(p.optionalDependencies ?? {})));
const complaints = ci.stderr.split('\n').filter((l) => /^npm error (Missing|Invalid): /.test(l));
const onlyOtherPlatforms =
  complaints.length > 0 &&
  complaints.every((l) => {
    const m = /^npm error Missing: (@?[^@\s]+)@\S* from lock file/.exec(l);
    return m !== null && optional.has(m[1]) && !(`node_modules/${m[1]}` in lock.packages);
  });
if (!onlyOtherPlatforms) {
  process.stderr.write(ci.stderr);
  process.exit(ci.status ?? 1);
}
process.stderr.write(
  `npm ci refused the lock only for ${complaints.length} optional packages of other platforms; installing the locked versions with npm install --no-save\n`,
);
const install = spawnSync('npm', ['install', '--no-save', ...args], { stdio: 'inherit' });
process.exit(install.status ?? 1);
