import { InvalidConfigError, type RaftConfig, ReadOnlyOption } from './types.ts';

/** Throws InvalidConfigError for a configuration the core cannot run with. */
export function validateConfig(c: RaftConfig): void {
  if (!c.id) throw new InvalidConfigError('id must be a non-empty node id');
  if (!Number.isInteger(c.heartbeatTick) || c.heartbeatTick <= 0) {
    throw new InvalidConfigError('heartbeatTick must be a positive integer');
  }
  if (!Number.isInteger(c.electionTick) || c.electionTick <= c.heartbeatTick) {
    throw new InvalidConfigError('electionTick must be an integer greater than heartbeatTick');
  }
  if ((c.maxInflightMsgs ?? 256) <= 0) throw new InvalidConfigError('maxInflightMsgs must be > 0');
  if (c.readOnlyOption === ReadOnlyOption.LeaseBased && !c.checkQuorum) {
    throw new InvalidConfigError("readOnlyOption 'lease' requires checkQuorum");
  }
  if (typeof c.random !== 'function') throw new InvalidConfigError('random must be a function returning [0, 1)');
}
