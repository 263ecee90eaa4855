/**
 * `raftkv leader transfer [ID]`: hand leadership to a voter over the HTTP API, as etcdctl's
 * `move-leader` (before maintenance on the leader's machine; SIGTERM does it too). Exit codes as
 * member.ts: 0 done, 1 refused or unreachable, 2 usage.
 */
import { command, FLAGS_HELP, ok, out, usageIf } from './member.ts';

export const LEADER_USAGE = `usage:
  raftkv leader transfer [ID]   hand leadership to ID (default: the most caught-up voter)
${FLAGS_HELP}`;

export async function runLeader(argv: string[]): Promise<void> {
  await command('leader', LEADER_USAGE, argv, {}, async (args, _values, api) => {
    const [sub, ...rest] = args;
    usageIf(sub !== 'transfer', sub === undefined ? 'no subcommand' : `unknown subcommand '${sub}'`);
    usageIf(rest.length > 1, 'leader transfer takes at most one ID');
    const to = rest[0];
    if (to !== undefined) usageIf(!/^[A-Za-z0-9_.-]{1,64}$/.test(to), `'${to}' is not a node id`);
    const res = await api().toLeader('POST', '/v1/cluster/transfer-leadership', to === undefined ? {} : { to });
    const { leader } = ok<{ leader: string }>(res);
    out(`leadership moved to ${leader}`);
  });
}
