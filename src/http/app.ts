/**
 * The node's one fastify instance: key routes, cluster admin, metrics and health, plus the
 * peer WebSocket route (registered by the transport on the same server), all behind the
 * authentication and protected-mode hook (auth.ts). With peer TLS it serves HTTPS, and the
 * client-certificate checks of tls-auth.ts run before every route.
 */
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { hostPort } from '../node/addresses.ts';
import type { Logger } from '../node/logger.ts';
import type { RaftNode } from '../node/raft-node.ts';
import { type NodeTls, secureHttp } from '../node/tls-config.ts';
import { registerAuth } from './auth.ts';
import { registerClusterRoutes } from './cluster-routes.ts';
import { registerErrorHandler } from './errors.ts';
import { registerHealthRoutes } from './health-routes.ts';
import { registerKvRoutes } from './kv-routes.ts';
import { registerSnapshotRoutes } from './snapshot-routes.ts';
import { registerClientCertChecks } from './tls-auth.ts';

/** What a multi-group node changes: its peer routes are the store's, and keys go to their group. */
export interface HttpAppOptions {
  registerPeerRoutes?: (app: FastifyInstance) => Promise<void>;
  keyNode?: (key: Buffer) => RaftNode;
  /** Routes only a multi-group node has (/v1/shards). */
  extraRoutes?: (app: FastifyInstance) => void;
  /** Every group of a multi-group node: /readyz waits for all of them. */
  groups?: ReadonlyMap<number, RaftNode>;
  /** Why member `id` may not be removed now (it still holds data), or undefined (cluster-routes.ts). */
  removalRefused?: (id: string) => string | undefined;
}

export async function buildHttpApp(node: RaftNode, log: Logger, tls: NodeTls = {}, opts: HttpAppOptions = {}): Promise<FastifyInstance> {
  // pino's Logger is a FastifyBaseLogger at run time; the generic types just do not line up.
  // An HTTPS instance is typed over https.Server; the routes use nothing that differs.
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }) as unknown as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: node.cfg.maxHttpBodyBytes,
    ...(tls.https ? { https: tls.https } : {}),
  }) as unknown as FastifyInstance;
  registerClientCertChecks(app, tls);
  await app.register(swagger, {
    openapi: {
      info: { title: 'RaftKV HTTP API', version: '1' },
    },
  });
  registerErrorHandler(app);
  // First, so that it guards every route registered after it, the peer route included.
  registerAuth(app, node);
  await (opts.registerPeerRoutes ? opts.registerPeerRoutes(app) : node.registerRoutes(app));
  registerKvRoutes(app, opts.keyNode ?? (() => node));
  opts.extraRoutes?.(app);
  registerClusterRoutes(app, node, opts.removalRefused);
  registerHealthRoutes(app, node, opts.groups);
  registerSnapshotRoutes(app, node);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}

/** The URL of the same route on the leader, for 307 redirects of writes. */
export function leaderUrl(node: RaftNode, path: string): string | undefined {
  const leader = node.leader();
  return leader ? `${secureHttp(node.cfg) ? 'https' : 'http'}://${hostPort(leader.host, leader.httpPort)}${path}` : undefined;
}
