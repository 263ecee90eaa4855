/**
 * Which arguments of a request are keys, from the command's legacy key range (first, last,
 * step) as COMMAND INFO reports it, or for a command with movable keys (SINTERCARD: keys [0,
 * 0, 0]) from its `keynum` key spec: the key count at an argument, the keys after it. Used for
 * slot routing (`-MOVED <slot>`).
 */
import { keyHashSlot } from '../slot.ts';
import type { CommandSpec } from './spec.ts';

/** The key arguments of `argv` (views, not copies); empty for a keyless command. */
export function keysOf(cmd: CommandSpec, argv: readonly Buffer[]): Buffer[] {
  const [first, lastSpec, step] = cmd.keys;
  if (first === 0) return keynumKeys(cmd, argv);
  if (step === 0) return [];
  const last = lastSpec < 0 ? argv.length + lastSpec : lastSpec;
  const keys: Buffer[] = [];
  for (let i = first; i <= last && i < argv.length; i += step) keys.push(argv[i]);
  return keys;
}

/**
 * The slot a request is routed by: its first key's, or 0 for a keyless command. RaftKV is one
 * shard owning every slot, so there is no CROSSSLOT case to detect.
 */
export function commandSlot(cmd: CommandSpec, argv: readonly Buffer[]): number {
  const [first] = cmd.keys;
  if (first === 0 && cmd.is.movablekeys) {
    const keys = keynumKeys(cmd, argv);
    return keys.length > 0 ? keyHashSlot(keys[0]) : 0;
  }
  return first > 0 && first < argv.length ? keyHashSlot(argv[first]) : 0;
}

/** The keys a `keynum` key spec names (none when the count is not a usable number). */
function keynumKeys(cmd: CommandSpec, argv: readonly Buffer[]): Buffer[] {
  const spec = cmd.key_specs[0];
  if (spec === undefined || spec.begin_search.type !== 'index' || spec.find_keys.type !== 'keynum') return [];
  const start = spec.begin_search.spec.index;
  const { keynumidx, firstkey, keystep } = spec.find_keys.spec;
  const n = Number(argv[start + keynumidx]?.toString('latin1'));
  if (!Number.isSafeInteger(n) || n < 1 || keystep < 1) return [];
  const keys: Buffer[] = [];
  for (let i = start + firstkey, k = 0; k < n && i < argv.length; i += keystep, k++) keys.push(argv[i]);
  return keys;
}
