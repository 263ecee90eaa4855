/**
 * `raftkv snapshot save|status|restore`, as `etcdctl snapshot save` and `etcdutl snapshot
 * status|restore`: a backup file of the whole keyspace from the leader, its header and checksum,
 * and a new member's data folder made from it (node/backup-file.ts has the format,
 * snapshot-restore.ts the folder). Exit codes: 0 done, 1 failed (nothing written), 2 usage (one
 * line, as every command's: args.ts).
 */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BackupFileError, type BackupLayout, verifyBackup } from '../node/backup-file.ts';
import { ConfigError, parsePeers } from '../node/config.ts';
import { clusterIdProblem } from '../storage/records.ts';
import { API_FLAGS, ApiClient, ApiError, apiOptions, jsonBody } from './api-client.ts';
import { type Parsed, parseCommandArgs, usageError } from './args.ts';
import { checkBackup, fsyncDir, restoredClusterId, writeDataDir } from './snapshot-restore.ts';

const USAGE = `usage:
  raftkv snapshot save FILE [--endpoints URL,...] [--token T] [--cacert FILE] [--timeout-ms 60000]
      a backup of the whole keyspace from the leader, at a linearizable point; written to
      FILE.part and renamed once complete and verified
  raftkv snapshot status FILE [-o table|json]
      the backup's header (cluster id, index, term, members, keys, created at); verifies its checksum
  raftkv snapshot restore FILE --data-dir DIR --id ID --peers id=host:port[:http_port],... [--cluster-id ID]
      a new member's data folder from the backup, for a new cluster of --peers (run it once per
      member, with the same --peers); DIR must not hold anything
The credential comes from --token, RAFTKV_HTTP_TOKEN or REDISCLI_AUTH; endpoints from
--endpoints or RAFTKV_ENDPOINTS (default http://127.0.0.1:16379).`;

/** A wrong invocation: exit 2 with the usage. */
class UsageError extends Error {}

export async function runSnapshot(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'save':
        return await save(rest);
      case 'status':
        return await status(rest);
      case 'restore':
        return await restore(rest);
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return;
      default:
        throw new UsageError(sub ? `unknown subcommand '${sub}'` : 'a subcommand is required');
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || (err instanceof ApiError && err.usage)) {
      usageError(['save', 'status', 'restore'].includes(sub) ? `snapshot ${sub}` : 'snapshot', err.message);
    }
    if (err instanceof BackupFileError || err instanceof ApiError) {
      process.stderr.write(`raftkv snapshot ${sub}: ${err.message}\n`);
      process.exit(1);
    }
    process.stderr.write(`raftkv snapshot ${sub}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

/** The shared flag parsing (args.ts): `--help` prints the usage, a wrong flag is exit 2. */
function args(sub: string, argv: string[], options: Parameters<typeof parseCommandArgs>[2], files: number): Parsed {
  const parsed = parseCommandArgs(`snapshot ${sub}`, argv, options, USAGE, files);
  if (parsed.positionals.length < files) throw new UsageError('FILE is required');
  return parsed;
}

async function save(argv: string[]): Promise<void> {
  const { values, positionals } = args('save', argv, API_FLAGS, 1);
  // Taking the snapshot may take a while on a large keyspace before the first byte comes.
  const opts = apiOptions({ ...values, 'timeout-ms': (values['timeout-ms'] as string | undefined) ?? '60000' } as Parameters<typeof apiOptions>[0]);
  const client = new ApiClient(opts);
  const file = resolve(positionals[0]);
  const part = `${file}.part`;
  const res = await leaderSnapshot(client);
  try {
    await pipeline(res, createWriteStream(part, { mode: 0o600, flush: true }));
    const layout = await verifyBackup(part).catch((err: Error) => {
      throw new BackupFileError(`the download from ${res.url} is not a whole backup (${err.message}); nothing was saved`);
    });
    renameSync(part, file);
    fsyncDir(dirname(file));
    const h = layout.header;
    process.stdout.write(
      `saved ${positionals[0]}: index ${h.index}, term ${h.term}, ${h.keyCount} keys, ${layout.size} bytes, cluster ${h.clusterId}, from ${h.node}\n`,
    );
  } catch (err) {
    rmSync(part, { force: true });
    throw err;
  }
}

/** The leader's answer to GET /v1/snapshot, streaming; any other answer is an ApiError. */
async function leaderSnapshot(client: ApiClient): Promise<IncomingMessage & { url: string }> {
  const { endpoint, res } = await client.streamFromLeader('/v1/snapshot');
  if (res.statusCode === 200) return Object.assign(res, { url: endpoint });
  const body = await drain(res);
  const answer = { endpoint, status: res.statusCode ?? 0, headers: res.headers, body };
  if (res.statusCode === 401) jsonBody(answer); // throws, saying how to authenticate
  let message: string | undefined;
  try {
    message = (JSON.parse(body.toString('utf8')) as { message?: string }).message;
  } catch {
    message = undefined;
  }
  throw new ApiError(`${endpoint}: ${res.statusCode} ${message ?? body.toString('utf8').slice(0, 200)}`);
}

async function drain(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function status(argv: string[]): Promise<void> {
  const { values, positionals } = args('status', argv, { output: { type: 'string', short: 'o', default: 'table' } }, 1);
  if (values.output !== 'table' && values.output !== 'json') throw new UsageError(`-o must be table or json, got '${values.output}'`);
  const layout = await verifyBackup(positionals[0]);
  process.stdout.write(values.output === 'json' ? `${JSON.stringify(statusJson(positionals[0], layout), null, 2)}\n` : statusTable(positionals[0], layout));
}

function statusJson(file: string, layout: BackupLayout): Record<string, unknown> {
  return { file, bytes: layout.size, checksum: 'ok', ...layout.header };
}

function statusTable(file: string, { header: h, size }: BackupLayout): string {
  const role = (id: string) => (h.voters.includes(id) ? 'voter' : h.learners.includes(id) ? 'learner' : 'no vote');
  const rows: [string, string][] = [
    ['file', file],
    ['checksum', 'sha256 ok'],
    ['cluster id', h.clusterId],
    ['index', String(h.index)],
    ['term', String(h.term)],
    ['keys', String(h.keyCount)],
    ['created at', `${h.createdAt} by ${h.node}`],
    ['size', `${size} bytes (keyspace image ${h.bodyBytes}, format ${h.bodyFormat}; LRU order ${h.lruBytes})`],
    ...h.members.map((m, i): [string, string] => [i === 0 ? 'members' : '', `${m.id} ${m.host}:${m.port} http ${m.httpPort} ${role(m.id)}`]),
  ];
  return `${rows.map(([k, v]) => `${k.padEnd(12)} ${v}`).join('\n')}\n`;
}

async function restore(argv: string[]): Promise<void> {
  const { values, positionals } = args(
    'restore',
    argv,
    { 'data-dir': { type: 'string' }, id: { type: 'string' }, peers: { type: 'string' }, 'cluster-id': { type: 'string' } },
    1,
  );
  for (const flag of ['data-dir', 'id', 'peers']) if (!values[flag]) throw new UsageError(`--${flag} is required`);
  const peers = parsePeers(values.peers as string);
  const id = values.id as string;
  if (!peers.some((p) => p.id === id)) throw new UsageError(`--peers must include --id '${id}'`);
  const idProblem = values['cluster-id'] === undefined ? undefined : clusterIdProblem(values['cluster-id']);
  if (idProblem) throw new UsageError(`--cluster-id: ${idProblem}`);
  const layout = await checkBackup(positionals[0]);
  const clusterId = (values['cluster-id'] as string | undefined) ?? restoredClusterId(layout, peers);
  await writeDataDir(positionals[0], layout, { dataDir: values['data-dir'] as string, peers, clusterId });
  const h = layout.header;
  process.stdout.write(
    `restored ${h.keyCount} keys at index ${h.index} into ${values['data-dir']} for member ${id} of ${peers.map((p) => p.id).join(',')}; ` +
      `new cluster id ${clusterId} (was ${h.clusterId})\n`,
  );
}
