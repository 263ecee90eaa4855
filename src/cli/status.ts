/**
 * `raftkv status`: one table for the whole cluster, as `etcdctl endpoint status --cluster -w
 * table`. The member list comes from the first endpoint that answers; then every member's own
 * HTTP endpoint is asked for its own numbers (/v1/cluster), so each row is what that member
 * says of itself. A member that does not answer is marked unreachable, with the error, and
 * nothing else is filled in for it: no number is guessed. Last contact is the leader's view
 * (only the leader hears from every member).
 *
 * Exit code: 0 when every member answered and a leader is known, 1 otherwise (the table is
 * printed either way), 2 for a wrong invocation.
 */
import { API_FLAGS, ApiClient, ApiError, apiOptions, jsonBody } from './api-client.ts';
import { parseCommandArgs, usageError } from './args.ts';

const USAGE = `usage: raftkv status [--endpoints URL,...] [-o table|json] [--token T] [--cacert FILE] [--timeout-ms 5000]
  --endpoints URL,...  where to find the member list (default $RAFTKV_ENDPOINTS, else http://127.0.0.1:16379);
                       every member listed there is then asked itself
  -o, --output FORMAT  table (default) or json
  --token T            HTTP credential (prefer RAFTKV_HTTP_TOKEN or REDISCLI_AUTH: ps shows flags)
  --cacert FILE        CA for https:// endpoints
  --timeout-ms N       per request (default 5000)
Exit code 0 when every member answered and a leader is known, 1 otherwise, 2 for bad flags.`;

/** What /v1/cluster says (src/http/cluster-routes.ts); only the fields used here. */
interface ClusterView {
  id: string;
  role: string;
  term: number;
  leader: string | null;
  commit: number;
  applied: number;
  snapshot_index: number;
  cluster_id?: string;
  version?: string;
  disk_bytes?: number;
  members: Array<{ id: string; host: string; http_port: number; role: string; last_contact_ms: number | null }>;
}

export interface StatusRow {
  id: string;
  endpoint: string;
  reachable: boolean;
  /** The member's own role; `unreachable` when it did not answer. */
  role: string;
  term: number | null;
  commit: number | null;
  applied: number | null;
  /** Entries the member has applied fewer than the leader has committed. */
  lag: number | null;
  /** Milliseconds since the leader last heard from it (0 for the leader itself). */
  last_contact_ms: number | null;
  disk_bytes: number | null;
  snapshot_index: number | null;
  version: string | null;
  cluster_id: string | null;
  error?: string;
}

export interface ClusterStatusReport {
  leader: string | null;
  members: StatusRow[];
}

/** The endpoint a member's HTTP API is at, in the scheme of the endpoint that listed it. */
function memberEndpoint(listedBy: string, m: { host: string; http_port: number }): string {
  const scheme = new URL(listedBy).protocol;
  const host = m.host.includes(':') ? `[${m.host}]` : m.host;
  return `${scheme}//${host}:${m.http_port}`;
}

export async function clusterStatus(client: ApiClient): Promise<ClusterStatusReport> {
  const first = await client.first('GET', '/v1/cluster');
  if (first.status !== 200) throw new ApiError(`${first.endpoint}: ${first.status} ${first.body.toString('utf8').slice(0, 200)}`);
  const listing = jsonBody<ClusterView>(first);
  const members = listing.members.map((m) => ({ id: m.id, endpoint: memberEndpoint(first.endpoint, m) }));
  const answers = await client.all(
    'GET',
    '/v1/cluster',
    members.map((m) => m.endpoint),
  );
  const views = new Map<string, ClusterView | string>();
  answers.forEach((a, i) => {
    const id = members[i].id;
    if ('error' in a) views.set(id, a.error);
    else if (a.status !== 200) views.set(id, `HTTP ${a.status}`);
    else {
      try {
        const v = jsonBody<ClusterView>(a);
        views.set(id, v.id === id ? v : `answers as '${v.id}', not '${id}'`);
      } catch (err) {
        views.set(id, (err as Error).message);
      }
    }
  });
  // The leader as the members that answered see it, in the highest term any of them knows.
  const seen = [...views.values()].filter((v): v is ClusterView => typeof v !== 'string');
  const term = Math.max(0, ...seen.map((v) => v.term));
  const leaderId = seen.find((v) => v.role === 'leader' && v.term === term)?.id ?? null;
  const leader = leaderId ? (views.get(leaderId) as ClusterView) : undefined;
  const rows = members.map(({ id, endpoint }): StatusRow => {
    const v = views.get(id);
    const contact = leader?.members.find((m) => m.id === id)?.last_contact_ms ?? null;
    if (v === undefined || typeof v === 'string') {
      return {
        id,
        endpoint,
        reachable: false,
        role: 'unreachable',
        term: null,
        commit: null,
        applied: null,
        lag: null,
        last_contact_ms: contact,
        disk_bytes: null,
        snapshot_index: null,
        version: null,
        cluster_id: null,
        error: v ?? 'no answer',
      };
    }
    return {
      id,
      endpoint,
      reachable: true,
      role: v.role,
      term: v.term,
      commit: v.commit,
      applied: v.applied,
      lag: leader ? Math.max(0, leader.commit - v.applied) : null,
      last_contact_ms: contact,
      disk_bytes: v.disk_bytes ?? null,
      snapshot_index: v.snapshot_index,
      version: v.version ?? null,
      cluster_id: v.cluster_id ?? null,
    };
  });
  return { leader: leaderId, members: rows };
}

const dash = (v: unknown) => (v === null || v === undefined ? '-' : String(v));

function size(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function ago(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1000 ? `${ms}ms ago` : `${(ms / 1000).toFixed(1)}s ago`;
}

export function statusTable(r: ClusterStatusReport): string {
  const head = ['ID', 'ENDPOINT', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'LAG', 'LAST CONTACT', 'DISK', 'SNAPSHOT', 'VERSION', 'CLUSTER ID'];
  const rows = r.members.map((m) => [
    m.id,
    m.endpoint,
    m.role,
    dash(m.term),
    dash(m.commit),
    dash(m.applied),
    dash(m.lag),
    m.role === 'leader' ? '-' : ago(m.last_contact_ms),
    size(m.disk_bytes),
    dash(m.snapshot_index),
    dash(m.version),
    dash(m.cluster_id),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const out = [rule, line(head), rule, ...rows.map(line), rule];
  for (const m of r.members) if (m.error) out.push(`${m.id} unreachable at ${m.endpoint}: ${m.error}`);
  if (r.leader === null) out.push('no leader: no member that answered is the leader of the highest term seen');
  return out.join('\n');
}

export async function runStatus(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs('status', argv, { ...API_FLAGS, output: { type: 'string', short: 'o', default: 'table' } }, USAGE);
  const output = values.output as string;
  if (output !== 'table' && output !== 'json') usageError('status', `-o must be table or json, got '${output}'`);
  let report: ClusterStatusReport;
  try {
    report = await clusterStatus(new ApiClient(apiOptions(values as Record<string, string>)));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.usage) usageError('status', err.message);
    process.stderr.write(`raftkv status: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${output === 'json' ? JSON.stringify(report, null, 2) : statusTable(report)}\n`);
  const healthy = report.leader !== null && report.members.every((m) => m.reachable);
  process.exit(healthy ? 0 : 1);
}
