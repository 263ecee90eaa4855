/**
 * `raftkv shard list|split|move-replica|transfer-leader`: the slot map of a sharded cluster and
 * the operator's changes to it, over the HTTP API (src/http/shard-routes.ts). Changes go to the
 * metadata group's leader whichever endpoint is named (followers redirect). Exit codes as
 * member.ts: 0 done, 1 refused or unreachable (one line saying why), 2 usage.
 */
import { command, FLAGS_HELP, ok, out, usageIf } from './member.ts';

export const SHARD_USAGE = `usage:
  raftkv shard list [-o table|json]            every shard: slots, voters, learners, leader
  raftkv shard split SHARD SLOT                the shard's slots from SLOT up become a new shard (same replicas)
  raftkv shard move-replica SHARD FROM TO      move the shard's replica on node FROM to node TO
  raftkv shard transfer-leader SHARD NODE      make NODE the shard's leader (and its hint in the map)
${FLAGS_HELP}`;

/** What GET /v1/shards answers. */
interface ShardList {
  epoch: number;
  shards: Array<{ id: number; role: string; slots: [number, number][]; voters: string[]; learners: string[]; leader_hint?: string; leader: string | null }>;
}

const ID = /^[A-Za-z0-9_.-]{1,64}$/;

function int(s: string | undefined, what: string, max: number): number {
  usageIf(s === undefined || !/^\d+$/.test(s) || Number(s) > max, `${what} must be an integer within 0..${max}, got '${s ?? ''}'`);
  return Number(s);
}

function node(s: string | undefined, what: string): string {
  usageIf(s === undefined || !ID.test(s), `${what} must be a node id, got '${s ?? ''}'`);
  return s as string;
}

export function shardTable(list: ShardList): string {
  const rows = list.shards.map((s) => [
    String(s.id),
    s.role,
    s.slots.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',') || '-',
    s.voters.join(','),
    s.learners.join(',') || '-',
    s.leader ?? s.leader_hint ?? '-',
  ]);
  const head = ['SHARD', 'ROLE', 'SLOTS', 'VOTERS', 'LEARNERS', 'LEADER'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [`slot map epoch ${list.epoch}`, line(head), ...rows.map(line)].join('\n');
}

export async function runShard(argv: string[]): Promise<void> {
  const flags = { output: { type: 'string', short: 'o' } } as const;
  await command('shard', SHARD_USAGE, argv, flags, async (args, values, api) => {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'list': {
        usageIf(rest.length > 0, `shard list takes no arguments, got '${rest.join(' ')}'`);
        const format = values.output ?? 'table';
        usageIf(format !== 'table' && format !== 'json', `-o must be table or json, got '${format}'`);
        const list = ok<ShardList>(await api().toLeader('GET', '/v1/shards'));
        out(format === 'json' ? JSON.stringify(list, null, 2) : shardTable(list));
        return;
      }
      case 'split': {
        usageIf(rest.length !== 2, 'shard split takes SHARD SLOT');
        const shard = int(rest[0], 'SHARD', 0xffffffff);
        const slot = int(rest[1], 'SLOT', 16383);
        const r = ok<{ new_shard: number; slots: [number, number][]; epoch: number }>(await api().toLeader('POST', `/v1/shards/${shard}/split`, { slot }));
        out(`split shard ${shard}: slots ${r.slots.map(([a, b]) => `${a}-${b}`).join(',')} are shard ${r.new_shard} now (map epoch ${r.epoch})`);
        return;
      }
      case 'move-replica': {
        usageIf(rest.length !== 3, 'shard move-replica takes SHARD FROM TO');
        const shard = int(rest[0], 'SHARD', 0xffffffff);
        const from = node(rest[1], 'FROM');
        const to = node(rest[2], 'TO');
        const r = ok<{ voters: string[]; epoch: number }>(await api().toLeader('POST', `/v1/shards/${shard}/move-replica`, { from, to }));
        out(`moved shard ${shard}'s replica from ${from} to ${to}: voters ${r.voters.join(',')} (map epoch ${r.epoch})`);
        return;
      }
      case 'transfer-leader': {
        usageIf(rest.length !== 2, 'shard transfer-leader takes SHARD NODE');
        const shard = int(rest[0], 'SHARD', 0xffffffff);
        const to = node(rest[1], 'NODE');
        const r = ok<{ epoch: number }>(await api().toLeader('POST', `/v1/shards/${shard}/transfer-leader`, { node: to }));
        out(`shard ${shard}'s leader is to be ${to} (map epoch ${r.epoch}); it moves once ${to} is reachable`);
        return;
      }
      default:
        usageIf(true, sub === undefined ? 'no subcommand' : `unknown subcommand '${sub}'`);
    }
  });
}
