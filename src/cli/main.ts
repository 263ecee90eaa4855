/**
 * `raftkv start` runs one node; `raftkv cluster --nodes N` runs N local nodes as child
 * processes (what `npm start` does).
 */
import { runCluster } from './cluster.ts';
import { runLeader } from './leader.ts';
import { runMember } from './member.ts';
import { runStart } from './start.ts';

const USAGE = `usage:
  raftkv start [--id n1 --port 6379 --peers n1=127.0.0.1:6379,... --data-dir ./data/n1 ...]
  raftkv cluster [--nodes 3] [--base-port 6379] [--data-dir ./data]
  raftkv member list|add|remove|promote ... [--endpoints URL,...]
  raftkv leader transfer [ID] [--endpoints URL,...]
Run 'raftkv start --help' for every setting.`;

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
  default:
    process.stderr.write(`${command ? `unknown command '${command}'\n` : ''}${USAGE}\n`);
    process.exit(command === '--help' || command === '-h' ? 0 : 2);
}
