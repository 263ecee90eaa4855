/**
 * What one run is asked for: the seed, how long, and the knobs the CLI and the shrinker turn.
 * Its own file so the simulated world (cluster.ts) and the run around it (simulation.ts) both
 * read it without importing each other.
 */
export interface RunOptions {
  seed: number;
  /** Steps (events) of the chaos phase; healing and the final checks add more. */
  steps: number;
  nodes?: number;
  /** Keep readable trace lines. */
  trace?: boolean;
  /** Shrinking knobs: faults to leave out, calm weather, fewer clients, no automatic snapshots. */
  skipFaults?: ReadonlySet<number>;
  calm?: boolean;
  clients?: number;
  noAutoSnapshots?: boolean;
  /** Overrides the profile's read mode (lease implies CheckQuorum). */
  readMode?: 'safe' | 'lease';
  /** Data groups of the initial slot map: a multi-group run (groups/run.ts) instead of one group. */
  groups?: number;
}
