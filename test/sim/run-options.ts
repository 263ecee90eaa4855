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
  /**
   * Every node keeps its whole log in memory (no log-memory tail): for a regression seed shrunk
   * before the tail existed, whose trajectory depends on it.
   */
  wholeLogInMemory?: boolean;
  /** Overrides the profile's read mode (lease implies CheckQuorum). */
  readMode?: 'safe' | 'lease';
  /** Data groups of the initial slot map: a multi-group run (groups/run.ts) instead of one group. */
  groups?: number;
  /**
   * A multi-group run with a deliberate fault of the protocol, to show that the checks catch it
   * and that its failures shrink: `read-unowned` serves reads without the owner check (the
   * RESP guard's `ownsKey`), `no-reconcile` never starts a group the map lists for a node that
   * could not take the split image, `map-copies-parent` leaves the new group's replicas in the
   * map as the map's split op copies them from the parent (groups/reshard.ts).
   */
  mutate?: 'read-unowned' | 'no-reconcile' | 'map-copies-parent';
}
