/**
 * Which arguments of a request are keys, from the command's legacy key range (first, last,
 * step) as COMMAND INFO reports it: enough for every supported command, none of which has
 * movable keys. Used for slot routing (`-MOVED <slot>`).
 */
import { keyHashSlot } from '../slot.ts';
import type { CommandSpec } from './spec.ts';

/** The key arguments of `argv` (views, not copies); empty for a keyless command. */
export function keysOf(cmd: CommandSpec, argv: readonly Buffer[]): Buffer[] {
  const [first, lastSpec, step] = cmd.keys;
  if (first === 0 || step === 0) return [];
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
  return first > 0 && first < argv.length ? keyHashSlot(argv[first]) : 0;
}
