/**
 * `npm run chaos -- [options]`: one Jepsen-style run against real RaftKV processes (run.ts).
 * The last line printed is `valid: true` or `valid: false`; the exit code is 0 for a valid
 * history, 1 for an invalid one and 2 when the harness itself could not run.
 */
import { cleanupStale, NetworkError, networkOwner } from './net/network.ts';
import { OptionError, parseOptions, usage } from './options.ts';
import { activeCluster, recheck, runChaos, SetupError } from './run.ts';

const log = (line: string) => process.stdout.write(`${line}\n`);

function teardownAndExit(code: number, why: string): never {
  activeCluster?.teardown();
  log(why);
  log('valid: false');
  process.exit(code);
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2), Math.floor(Math.random() * 2 ** 31));
  if (opts.help) {
    log(usage());
    return 0;
  }
  if (opts.cleanup) {
    if (networkOwner() !== undefined) throw new SetupError(`a live chaos run (pid ${networkOwner()}) owns the network; stop it instead`);
    const removed = cleanupStale();
    log(removed.length ? `removed: ${removed.join(', ')}` : 'nothing to clean up');
    return 0;
  }
  if (opts.check) {
    const valid = recheck(opts.check, log);
    log(`valid: ${valid}`);
    return valid ? 0 : 1;
  }
  if (process.getuid?.() !== 0) throw new SetupError('the chaos suite needs root (network namespaces and iptables)');
  process.on('SIGINT', () => teardownAndExit(130, 'interrupted: cluster and network torn down'));
  process.on('SIGTERM', () => teardownAndExit(143, 'terminated: cluster and network torn down'));
  process.on('exit', () => activeCluster?.teardown());
  const { summary } = await runChaos(opts, log);
  log(`valid: ${summary.valid}`);
  return summary.valid ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    const known = err instanceof OptionError || err instanceof SetupError || err instanceof NetworkError;
    if (err instanceof OptionError) log(usage());
    teardownAndExit(2, `chaos harness error: ${known ? err.message : (err.stack ?? err.message)}`);
  },
);
