/**
 * `raftkv start` runs one node; `raftkv cluster --nodes N` runs N local nodes as child
 * processes (what `npm start` does); the operator commands (`raftkv status`, ...) talk to a
 * running cluster over its HTTP API (api-client.ts). Each command parses its own flags
 * (args.ts): `raftkv <command> --help` prints its usage and exits 0.
 */
import { runCluster } from './cluster.ts';
import { runLeader } from './leader.ts';
import { runMember } from './member.ts';
import { runShard } from './shard.ts';
import { runSnapshot } from './snapshot.ts';
import { runStart } from './start.ts';
import { runStatus } from './status.ts';
import { versionText } from './version.ts';

const USAGE = `usage: raftkv <command> [flags]
  start     run one node ('raftkv start --help' lists every setting)
  cluster   run a local cluster of N nodes, as npm start does (npm start -- --base-port 7000)
  status    one table of every member: role, term, commit, applied, lag, log size, version
  snapshot  save a backup from the leader, show a backup's header, restore one into a new member
  member    list|add|remove|promote members ('raftkv member --help')
  leader    transfer [ID]: hand leadership over
  shard     list|split|move-replica|transfer-leader: the shards of a sharded cluster ('raftkv shard --help')
  version   this binary's version and its peer protocol, storage, slot map and backup formats
  help      this text
'raftkv <command> --help' prints a command's flags.`;

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'start':
    await runStart(rest);
    break;
  case 'cluster':
    await runCluster(rest);
    break;
  case 'member':
    await runMember(rest);
    break;
  case 'leader':
    await runLeader(rest);
    break;
  case 'shard':
    await runShard(rest);
    break;
  case 'status':
    await runStatus(rest);
    break;
  case 'snapshot':
    await runSnapshot(rest);
    break;
  case 'version':
  case '--version':
  case '-v':
    process.stdout.write(`${versionText()}\n`);
    break;
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(`${USAGE}\n`);
    break;
  default:
    process.stderr.write(`${command === undefined ? 'raftkv: no command' : `raftkv: unknown command '${command}'`}\n${USAGE}\n`);
    process.exit(2);
}
