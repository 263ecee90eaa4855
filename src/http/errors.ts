/**
 * Maps the runtime's typed errors to HTTP answers. Clients get a JSON body with a message and
 * a stable code; nothing the client sends can make the server crash.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WrongTypeError } from '../kv/errors.ts';
import { hostPort } from '../node/addresses.ts';
import {
  ConfChangePendingError,
  LearnerBehindError,
  MemberExistsError,
  NodeClosedError,
  NotLeaderError,
  NotLearnerError,
  TransferTimeoutError,
  UnknownMemberError,
  UnsafeReconfigError,
} from '../node/errors.ts';
import { InvalidMemberError } from '../node/members.ts';
import { OutcomeUnknownError, ProposalFailedError, ReadTimeoutError } from '../node/waiters.ts';
import { ProposalDroppedError } from '../raft/types.ts';

export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Idempotency-Key answers (idempotency.ts), worded after the IETF draft: a malformed key is 400,
 * a key reused for another request 422. A retry while the first is in flight needs no 409: both
 * are in the log, and the later one answers the earlier one's result.
 */
export const IDEMPOTENCY_ERRORS = {
  invalid: (problem: string) => new HttpError(400, 'invalid_idempotency_key', `Idempotency-Key ${problem}`),
  reused: () => new HttpError(422, 'idempotency_key_reused', 'Idempotency-Key was already used for a different request (method, key or body); send a new key'),
  unusable: (message: string) => new HttpError(500, 'internal', `the idempotency record could not be used: ${message}`),
} as const;

const BY_CLASS: [new (...a: never[]) => Error, number, string][] = [
  [UnknownMemberError, 404, 'unknown_member'],
  [MemberExistsError, 409, 'member_exists'],
  [NotLearnerError, 409, 'not_learner'],
  [LearnerBehindError, 409, 'learner_not_ready'],
  [UnsafeReconfigError, 409, 'unsafe_reconfig'],
  /** GET /v1/kv/:key of a key holding a hash or set (issue 14): the HTTP API reads strings. */
  [WrongTypeError, 409, 'wrong_type'],
  [ConfChangePendingError, 503, 'conf_change_pending'],
  [ProposalDroppedError, 503, 'proposal_dropped'],
  [ProposalFailedError, 503, 'proposal_failed'],
  [ReadTimeoutError, 503, 'read_timeout'],
  [NodeClosedError, 503, 'shutting_down'],
  [TransferTimeoutError, 503, 'transfer_timeout'],
  [OutcomeUnknownError, 504, 'outcome_unknown'],
];

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    if (err instanceof NotLeaderError) return redirectToLeader(req, reply, err);
    if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.code, message: err.message });
    for (const [cls, status, code] of BY_CLASS) {
      if (err instanceof cls) return reply.code(status).send({ error: code, message: err.message });
    }
    if (err instanceof InvalidMemberError) {
      const field = err.field === 'httpPort' ? 'http_port' : err.field === 'tlsPort' ? 'tls_port' : err.field;
      return reply.code(400).send({ error: 'bad_request', field, message: `${field} ${err.problem}` });
    }
    if (err.validation) return reply.code(400).send({ error: 'bad_request', ...invalidField(err.validation), message: err.message });
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: String(err.code ?? 'bad_request').toLowerCase(), message: err.message });
    }
    req.log.error({ err }, 'unhandled error in HTTP route');
    return reply.code(500).send({ error: 'internal', message: err.message });
  });
}

/** The field a schema error is about (`{}` if it names none), as `{ field }` for the reply body. */
function invalidField(validation: unknown): { field?: string } {
  const first = (Array.isArray(validation) ? validation[0] : undefined) as
    | { instancePath?: string; params?: { missingProperty?: string; additionalProperty?: string } }
    | undefined;
  const field = first?.instancePath?.replace(/^\//, '') || first?.params?.missingProperty || first?.params?.additionalProperty;
  return field ? { field } : {};
}

export function redirectToLeader(req: FastifyRequest, reply: FastifyReply, err: NotLeaderError): FastifyReply {
  if (!err.leader) return reply.code(503).send({ error: 'no_leader', message: 'no leader elected' });
  // Members are configured alike (docs/security.md, "TLS"): the leader speaks our scheme.
  const url = `${req.protocol}://${hostPort(err.leader.host, err.leader.httpPort)}${req.url}`;
  return reply.code(307).header('location', url).send({ error: 'not_leader', leader: err.leader.id, location: url });
}
