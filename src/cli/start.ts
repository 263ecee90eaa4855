/** `raftkv start`: parse settings, open the node, serve HTTP (and peers), handle signals. */
import { parseArgs } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { buildHttpApp } from '../http/app.ts';
import { HttpError } from '../http/errors.ts';
import { registerShardRoutes, removalRefused } from '../http/shard-routes.ts';
import { exposureWarning } from '../node/access.ts';
import { applyRestoredLru } from '../node/backup.ts';
import { ConfigError, envName, type NodeConfig, resolveConfig, SETTINGS, type SettingName } from '../node/config.ts';
import type { Logger } from '../node/logger.ts';
import { createLogger } from '../node/logger.ts';
import { settlePeerSecret } from '../node/peer-secret.ts';
import { RaftNode } from '../node/raft-node.ts';
import { NodeStore } from '../node/store/store.ts';
import { followView } from '../node/store/view.ts';
import { loadTls, type NodeTls } from '../node/tls-config.ts';
import { formatBytes, formatDuration } from '../node/units.ts';
import { type StartRespOptions, startRespServer } from '../resp/node-dispatcher.ts';
import type { RespServer } from '../resp/server.ts';
import { startShardedRespServer } from '../resp/sharded-dispatcher.ts';
import { keyHashSlot } from '../resp/slot.ts';
import { ShardedDirectoryError } from '../storage/index.ts';
import { ArgsError, argsProblem, usageError } from './args.ts';
import { listenError, openFailure, prepareDataDir, storageOpenError } from './preflight.ts';
import { missingRuntimeSettings } from './runtime.ts';

function helpText(): string {
  const lines = ['raftkv start: run one node. Flags beat RAFTKV_* environment variables, which beat --config.'];
  for (const [name, spec] of Object.entries(SETTINGS)) {
    const shown =
      spec.kind === 'bytes'
        ? formatBytes(spec.default as number)
        : spec.kind === 'duration'
          ? formatDuration(spec.default as number)
          : JSON.stringify(spec.default);
    const def = Array.isArray(spec.default) ? '' : ` (default ${shown})`;
    lines.push(`  --${name.padEnd(22)} ${envName(name).padEnd(30)} ${spec.help}${def}`);
  }
  return lines.join('\n');
}

export function parseStartArgs(argv: string[]): NodeConfig {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = { help: { type: 'boolean', short: 'h' } };
  for (const [name, spec] of Object.entries(SETTINGS)) options[name] = { type: spec.kind === 'bool' ? 'boolean' : 'string' };
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ArgsError(argsProblem(err));
  }
  if (values.help) {
    process.stdout.write(`${helpText()}\n`);
    process.exit(0);
  }
  delete values.help;
  const flags = values as Partial<Record<SettingName, unknown>>;
  const cfg = resolveConfig(flags);
  settlePeerSecret(cfg, flags);
  return cfg;
}

/** Stops with exit code 2 and one line naming the setting: the operator's to fix. */
function badSetting(err: ConfigError): never {
  process.stderr.write(`raftkv: ${err.message}\n`);
  process.exit(2);
}

export async function runStart(argv: string[]): Promise<void> {
  let cfg: NodeConfig;
  let tls: NodeTls;
  try {
    cfg = parseStartArgs(argv);
    // Every setting is checked before the data directory is created.
    tls = loadTls(cfg);
    prepareDataDir(cfg.dataDir);
  } catch (err) {
    if (err instanceof ConfigError) badSetting(err);
    if (err instanceof ArgsError) usageError('start', err.message);
    throw err;
  }
  const log = createLogger(cfg.logLevel, cfg.id, process.env.RAFTKV_LOG_PRETTY ? process.env.RAFTKV_LOG_PRETTY === '1' : undefined);
  let node: RaftNode | NodeStore;
  try {
    node = cfg.shards > 1 ? await NodeStore.open(cfg, log, tls) : await RaftNode.open(cfg, log, tls);
  } catch (err) {
    // The data directory decides: one that holds a sharded cluster is opened as one.
    node = await (err instanceof ShardedDirectoryError ? NodeStore.open(cfg, log, tls) : Promise.reject(err)).catch((err2) => openFailed(err2, cfg, log));
  }
  const served = node instanceof NodeStore ? await serveSharded(node, cfg, log, tls) : await serveSingle(node, cfg, log, tls);
  const { app, resp } = served;
  node.start();
  const missing = missingRuntimeSettings();
  if (missing.length > 0) {
    log.warn({ missing }, 'started without the runtime settings raftkv cluster and the image apply; expect more memory per key (docs/performance.md)');
  }
  log.info(
    {
      resp: cfg.port ? `${resp.address().host}:${resp.address().port}` : 'off',
      ...(tls.resp ? { respTls: `${resp.tlsAddress()?.host}:${resp.tlsAddress()?.port}` } : {}),
      https: tls.https !== undefined,
      http: `${cfg.httpHost}:${cfg.httpPort}`,
      dataDir: cfg.dataDir,
      peers: cfg.peers.map((p) => p.id),
      ...(node instanceof NodeStore ? { groups: [...node.groups.keys()] } : {}),
    },
    'node started',
  );
  const exposed = exposureWarning(cfg);
  if (exposed) log.warn({ protectedMode: cfg.protectedMode }, exposed);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    try {
      // Stop accepting and answer what is owed while the node can still commit it.
      await resp.close();
      await node.shutdown();
      await app.close();
      log.info('shut down cleanly');
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'unclean shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  if (node instanceof RaftNode) {
    node.on('removed', () => {
      if (cfg.exitWhenRemoved === 'yes') void stop('removed from the cluster');
    });
  }
  node.on('fatal', () => {
    process.exit(1);
  });
}

/** Corrupt or unreadable data is not a setting (exit 1), but the operator must know where. */
function openFailed(err: unknown, cfg: NodeConfig, log: Logger): never {
  const setting = storageOpenError(err);
  if (setting) badSetting(setting);
  const why = openFailure(err, cfg.dataDir);
  log.fatal({ err }, why);
  process.stderr.write(`raftkv: ${why}\n`);
  process.exit(1);
}

interface Served {
  app: FastifyInstance;
  resp: RespServer;
}

async function serveSingle(node: RaftNode, cfg: NodeConfig, log: Logger, tls: NodeTls): Promise<Served> {
  applyRestoredLru(cfg.dataDir, node.kv, node.now(), log);
  const app = await listenHttp(await buildHttpApp(node, log, tls), cfg);
  const resp = await listenResp(cfg, log, tls, (opts) => startRespServer(node, opts));
  return { app, resp };
}

/** A node hosting many groups (--shards above 1, or a data directory that holds them). */
async function serveSharded(store: NodeStore, cfg: NodeConfig, log: Logger, tls: NodeTls): Promise<Served> {
  const view = followView(store, log);
  const keyNode = (key: Buffer): RaftNode => {
    const slot = keyHashSlot(key);
    const owner = view.owner(slot);
    const local = owner?.local;
    if (!local)
      throw new HttpError(421, 'wrong_shard', `slot ${slot} of this key is served by shard ${owner?.group ?? '(none)'}, which this node does not host`);
    return local;
  };
  const http = await buildHttpApp(store.metadata, log, tls, {
    registerPeerRoutes: (app) => store.registerRoutes(app),
    keyNode,
    extraRoutes: (app) => registerShardRoutes(app, store),
    removalRefused: (id) => removalRefused(store.map, id),
    groups: store.groups,
  });
  const app = await listenHttp(http, cfg);
  const resp = await listenResp(cfg, log, tls, (opts) => startShardedRespServer(store, view, opts));
  return { app, resp };
}

async function listenHttp(app: FastifyInstance, cfg: NodeConfig): Promise<FastifyInstance> {
  try {
    await app.listen({ host: cfg.httpHost, port: cfg.httpPort });
  } catch (err) {
    const setting = listenError(err, { port: 'http-port', host: 'http-host' }, cfg.httpHost, cfg.httpPort);
    if (setting) badSetting(setting);
    throw err;
  }
  return app;
}

async function listenResp(cfg: NodeConfig, log: Logger, tls: NodeTls, serve: (opts: StartRespOptions) => Promise<RespServer>): Promise<RespServer> {
  try {
    return await serve({
      ...(tls.resp ? { tls: tls.resp } : {}),
      // Socket errors (a client reset its connection) are routine; anything else is a bug.
      onError: (err) => ((err as NodeJS.ErrnoException).code ? log.debug({ err }, 'RESP socket error') : log.error({ err }, 'RESP command failed')),
    });
  } catch (err) {
    const where = `${cfg.host}:${[cfg.port, cfg.tlsPort].filter((p) => p !== 0).join(' and ')}`;
    const setting = listenError(err, { port: cfg.port === 0 ? 'tls-port' : 'port', host: 'host' }, cfg.host, cfg.port || cfg.tlsPort);
    if (setting) badSetting(setting);
    log.fatal({ err }, `cannot listen for RESP on ${where}: ${(err as Error).message}`);
    process.stderr.write(`raftkv: cannot listen for RESP on ${where}: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
