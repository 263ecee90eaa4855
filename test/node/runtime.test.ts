import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { missingRuntimeSettings, NODE_ENV_DEFAULTS, NODE_FLAGS, nodeEnv, selfCommand } from '../../src/cli/runtime.ts';
import { TEST_BUILD_ENV } from '../support/raftkv-build.ts';

const DOCKERFILE = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');

describe('node runtime settings', () => {
  it('the image sets the same malloc variables and node flags as raftkv cluster', () => {
    // The run stage's ENV instruction, continuation lines joined.
    const env = /^ENV ((?:.*\\\n)*.*)$/m.exec(DOCKERFILE.slice(DOCKERFILE.lastIndexOf('AS run')))![1].replace(/\\\n/g, ' ');
    for (const [k, v] of Object.entries(NODE_ENV_DEFAULTS)) expect(env).toMatch(new RegExp(`(^|\\s)${k}=${v}(\\s|$)`));
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(DOCKERFILE)![1]) as string[];
    expect(entrypoint[0]).toBe('node');
    const script = entrypoint.indexOf('dist/cli/main.js');
    for (const flag of NODE_FLAGS) expect(entrypoint.slice(1, script)).toContain(flag);
  });

  it("keeps a variable the caller's environment sets", () => {
    const env = nodeEnv({ MALLOC_ARENA_MAX: '4', PATH: '/bin' });
    expect(env.MALLOC_ARENA_MAX).toBe('4');
    expect(env.PATH).toBe('/bin');
    for (const k of Object.keys(NODE_ENV_DEFAULTS)) if (k !== 'MALLOC_ARENA_MAX') expect(env[k]).toBe(NODE_ENV_DEFAULTS[k]);
  });

  it('reports what a process was started without', () => {
    expect(missingRuntimeSettings({}, [])).toEqual([...Object.keys(NODE_ENV_DEFAULTS), ...NODE_FLAGS]);
    expect(missingRuntimeSettings(nodeEnv({}), NODE_FLAGS)).toEqual([]);
    // A flag counts from NODE_OPTIONS too, and with another value (the user chose it).
    const other = NODE_FLAGS.map((f) => `${f.split('=')[0]}=32`).join(' ');
    expect(missingRuntimeSettings(nodeEnv({ NODE_OPTIONS: other }), [])).toEqual([]);
  });

  it('the flags are accepted by this node and change the young generation', () => {
    const probe = "const s = require('v8').getHeapSpaceStatistics().find((x) => x.space_name === 'new_space'); console.log(s.space_size)";
    // Fill the young generation so that it grows to its maximum.
    const fill = 'let a = []; for (let i = 0; i < 3e6; i++) { a.push({ i }); if (a.length > 2e5) a = []; }';
    const run = (flags: readonly string[]) => {
      const r = spawnSync(process.execPath, [...flags, '-e', `${fill}; ${probe}`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      return Number(r.stdout.trim());
    };
    expect(run(NODE_FLAGS)).toBeLessThan(run([]));
  });

  it('raftkv cluster starts its children from the build it runs from: sources through tsx, or the compiled JavaScript', () => {
    const fromSources = selfCommand();
    expect(fromSources.slice(0, NODE_FLAGS.length)).toEqual([...NODE_FLAGS]);
    expect(fromSources.slice(NODE_FLAGS.length)).toEqual(['--import', 'tsx', fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))]);
    // The compiled build of this run (compile-raftkv.ts); the image has no tsx to import.
    const main = process.env[TEST_BUILD_ENV]!;
    const runtime = join(dirname(main), 'runtime.js');
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `console.log(JSON.stringify((await import(${JSON.stringify(runtime)})).selfCommand()))`],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([...NODE_FLAGS, '--enable-source-maps', main]);
  });
});
