/**
 * `GET /v1/snapshot`: a backup of the whole state machine at a linearizable point, streamed from
 * the leader as a backup file (node/backup-file.ts; `raftkv snapshot save` stores it). Behind
 * the same authentication as every other route: a backup holds every key. A follower answers
 * 307 to the leader, as writes do.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { type BackupHost, openBackup } from '../node/backup.ts';

export function registerSnapshotRoutes(app: FastifyInstance, node: BackupHost): void {
  app.get(
    '/v1/snapshot',
    { schema: { description: 'A backup file of the whole keyspace at a linearizable point (leader only; followers redirect)' } },
    async (_req, reply) => {
      const { header, bytes, stream } = await openBackup(node);
      // Readable.from ends the generator (closing the LevelDB iterator) when the client goes away.
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="raftkv-${header.index}.snapshot"`)
        .header('content-length', String(bytes))
        .header('x-raftkv-snapshot-index', String(header.index))
        .send(Readable.from(stream, { objectMode: false }));
    },
  );
}
