/**
 * Binary encoding of the slot map (inside group 0's snapshot) and of its ops (group 0's log
 * entries), version 1. Numbers are LEB128 varints, strings varint-length-prefixed UTF-8, with
 * the peer codec's bounds-checked Reader and exact-size Writer (src/transport/bytes.ts).
 *
 *   map   := VERSION KIND_MAP epoch nodes ngroups group* nranges range*
 *   nodes := n str*                           every node id the groups name, sorted, once each
 *   group := id nvoters node# * nlearners node# * hint   node# indexes `nodes`;
 *                                             hint 0 = none, else 1 + an index into the voters
 *   range := end group                        it starts right after the previous range (the
 *                                             first at slot 0), so a gap or overlap cannot be
 *                                             written
 *   op    := VERSION code epoch group fields  code from SHARD_OP (ops.ts):
 *            createGroup: n str* hint  ·  split: atSlot newGroup  ·  the others: node str
 *
 * A map of 3 data groups and group 0 over 3 nodes takes 52 bytes, a replica op about 8.
 * Decoding is hostile-input safe: its only failure is a CodecError (truncated, bad version or
 * kind, malformed), every count is checked against the bytes left before anything is read for
 * it, and a decoded map must pass checkMap. A decoded op is well-formed but may still be refused by validate (a stale
 * epoch, an unknown group): that is apply's answer, not the codec's.
 */
import type { NodeId } from '../raft/types.ts';
import { CodecError, CodecErrorReason, checkUint, Reader, strSize, varintSize, Writer } from '../transport/bytes.ts';
import { SHARD_OP, type ShardOp, type ShardOpName } from './ops.ts';
import { checkMap, type GroupReplicas, isGroupId, nodeIdProblem, SHARD_LIMITS, SLOT_COUNT, type SlotMap, type SlotRange } from './slot-map.ts';

export { CodecError, CodecErrorReason } from '../transport/bytes.ts';

export const SHARD_CODEC_VERSION = 1;
/** The kind byte of a map; ops use their SHARD_OP code (all >= 1) in its place. */
const KIND_MAP = 0;

const NAME_BY_CODE: (ShardOpName | undefined)[] = [];
for (const name of Object.keys(SHARD_OP) as ShardOpName[]) NAME_BY_CODE[SHARD_OP[name].code] = name;

export function encodeMap(map: SlotMap): Uint8Array {
  const problem = checkMap(map);
  if (problem) throw new CodecError(CodecErrorReason.Malformed, `slot map: ${problem}`);
  const ids = new Set<NodeId>();
  for (const g of map.groups) for (const n of [...g.voters, ...g.learners]) ids.add(n);
  const nodes = [...ids].sort();
  const index = new Map(nodes.map((n, i) => [n, i]));
  let size = 2 + varintSize(map.epoch) + varintSize(nodes.length) + varintSize(map.groups.length) + varintSize(map.ranges.length);
  for (const n of nodes) size += strSize(n);
  for (const g of map.groups) {
    size += varintSize(g.id) + varintSize(g.voters.length) + varintSize(g.learners.length) + varintSize(hintCode(g));
    for (const n of g.voters) size += varintSize(index.get(n)!);
    for (const n of g.learners) size += varintSize(index.get(n)!);
  }
  for (const r of map.ranges) size += varintSize(r.end) + varintSize(r.group);
  const w = new Writer(size);
  w.u8(SHARD_CODEC_VERSION);
  w.u8(KIND_MAP);
  w.varint(map.epoch);
  w.varint(nodes.length);
  for (const n of nodes) w.str(n);
  w.varint(map.groups.length);
  for (const g of map.groups) {
    w.varint(g.id);
    w.varint(g.voters.length);
    for (const n of g.voters) w.varint(index.get(n)!);
    w.varint(g.learners.length);
    for (const n of g.learners) w.varint(index.get(n)!);
    w.varint(hintCode(g));
  }
  w.varint(map.ranges.length);
  for (const r of map.ranges) {
    w.varint(r.end);
    w.varint(r.group);
  }
  return w.finish();
}

export function decodeMap(bytes: Uint8Array): SlotMap {
  const r = new Reader(bytes);
  header(r, 'slot map');
  const kind = r.u8('kind');
  if (kind !== KIND_MAP) throw new CodecError(CodecErrorReason.BadType, `expected a slot map, got kind ${kind}`);
  const epoch = r.varint('epoch');
  // Each node id takes at least 2 bytes (a length and a character), each node index 1.
  const nodes: NodeId[] = [];
  const nnodes = r.count(2, 'nodes');
  for (let i = 0; i < nnodes; i++) nodes.push(r.str('node id'));
  if (new Set(nodes).size !== nodes.length) throw new CodecError(CodecErrorReason.Malformed, 'a node id is listed twice');
  const ngroups = r.count(4, 'groups');
  if (ngroups > SHARD_LIMITS.maxGroups) throw new CodecError(CodecErrorReason.Malformed, `${ngroups} groups`);
  const groups: GroupReplicas[] = [];
  for (let i = 0; i < ngroups; i++) {
    const id = groupId(r, 'group id');
    const voters = nodeList(r, nodes, 'voters');
    const learners = nodeList(r, nodes, 'learners');
    const hint = r.varint('leader hint');
    if (hint > voters.length) throw new CodecError(CodecErrorReason.Malformed, `group ${id}: leader hint ${hint} of ${voters.length} voters`);
    groups.push(hint === 0 ? { id, voters, learners } : { id, voters, learners, leaderHint: voters[hint - 1] });
  }
  const nranges = r.count(2, 'ranges');
  if (nranges > SLOT_COUNT) throw new CodecError(CodecErrorReason.Malformed, `${nranges} ranges`);
  const ranges: SlotRange[] = [];
  let start = 0;
  for (let i = 0; i < nranges; i++) {
    const end = r.varint('range end');
    if (end < start || end >= SLOT_COUNT) throw new CodecError(CodecErrorReason.Malformed, `range ${start}-${end}`);
    ranges.push({ start, end, group: groupId(r, 'range group') });
    start = end + 1;
  }
  r.done('slot map');
  const map: SlotMap = { epoch, ranges, groups };
  const problem = checkMap(map);
  if (problem) throw new CodecError(CodecErrorReason.Malformed, `slot map: ${problem}`);
  return map;
}

export function encodeOp(op: ShardOp): Uint8Array {
  const def = SHARD_OP[op.type as ShardOpName];
  if (def === undefined || !Object.hasOwn(SHARD_OP, op.type)) throw new CodecError(CodecErrorReason.BadType, `unknown op ${String(op.type)}`);
  checkUint(op.epoch, 'epoch');
  checkGroup(op.group, 'group');
  let size = 2 + varintSize(op.epoch) + varintSize(op.group);
  switch (op.type) {
    case 'createGroup': {
      size += varintSize(op.voters.length) + varintSize(voterHint(op.voters, op.leaderHint));
      for (const n of op.voters) size += strSize(checkNode(n));
      break;
    }
    case 'split':
      checkUint(op.atSlot, 'atSlot');
      checkGroup(op.newGroup, 'newGroup');
      size += varintSize(op.atSlot) + varintSize(op.newGroup);
      break;
    default:
      size += strSize(checkNode(op.node));
  }
  const w = new Writer(size);
  w.u8(SHARD_CODEC_VERSION);
  w.u8(def.code);
  w.varint(op.epoch);
  w.varint(op.group);
  switch (op.type) {
    case 'createGroup':
      w.varint(op.voters.length);
      for (const n of op.voters) w.str(n);
      w.varint(voterHint(op.voters, op.leaderHint));
      break;
    case 'split':
      w.varint(op.atSlot);
      w.varint(op.newGroup);
      break;
    default:
      w.str(op.node);
  }
  return w.finish();
}

export function decodeOp(bytes: Uint8Array): ShardOp {
  const r = new Reader(bytes);
  header(r, 'slot map op');
  const code = r.u8('op code');
  const type = NAME_BY_CODE[code];
  if (type === undefined) throw new CodecError(CodecErrorReason.BadType, `unknown slot map op code ${code}`);
  const epoch = r.varint('epoch');
  const group = groupId(r, 'group');
  let op: ShardOp;
  switch (type) {
    case 'createGroup': {
      const n = r.count(2, 'voters');
      if (n > SHARD_LIMITS.maxReplicas) throw new CodecError(CodecErrorReason.Malformed, `${n} voters`);
      const voters: NodeId[] = [];
      for (let i = 0; i < n; i++) voters.push(r.str('voter'));
      const hint = r.varint('leader hint');
      if (hint > voters.length) throw new CodecError(CodecErrorReason.Malformed, `leader hint ${hint} of ${voters.length} voters`);
      op = hint === 0 ? { type, epoch, group, voters } : { type, epoch, group, voters, leaderHint: voters[hint - 1] };
      break;
    }
    case 'split':
      op = { type, epoch, group, atSlot: r.varint('atSlot'), newGroup: groupId(r, 'newGroup') };
      break;
    default:
      op = { type, epoch, group, node: r.str('node') };
  }
  r.done('slot map op');
  return op;
}

function header(r: Reader, what: string): void {
  const version = r.u8('version');
  if (version !== SHARD_CODEC_VERSION) throw new CodecError(CodecErrorReason.Version, `${what} version ${version}, this node reads ${SHARD_CODEC_VERSION}`);
}

function groupId(r: Reader, field: string): number {
  const id = r.varint(field);
  if (!isGroupId(id)) throw new CodecError(CodecErrorReason.Malformed, `${field} ${id} is not a uint32`);
  return id;
}

function checkGroup(id: number, field: string): void {
  if (!isGroupId(id)) throw new CodecError(CodecErrorReason.Malformed, `${field} ${id} is not a uint32`);
}

/** Only ids that could name a node are written, so every op written can be read back. */
function checkNode(id: NodeId): NodeId {
  const problem = nodeIdProblem(id);
  if (problem) throw new CodecError(CodecErrorReason.Malformed, problem);
  return id;
}

function nodeList(r: Reader, nodes: readonly NodeId[], field: string): NodeId[] {
  const n = r.count(1, field);
  if (n > SHARD_LIMITS.maxReplicas) throw new CodecError(CodecErrorReason.Malformed, `${n} ${field}`);
  const out: NodeId[] = [];
  for (let i = 0; i < n; i++) {
    const at = r.varint(field);
    if (at >= nodes.length) throw new CodecError(CodecErrorReason.Malformed, `${field}: node #${at} of ${nodes.length}`);
    out.push(nodes[at]);
  }
  return out;
}

function hintCode(g: GroupReplicas): number {
  return voterHint(g.voters, g.leaderHint);
}

/** 0 for no hint, else 1 + the hint's index among the voters; a hint that is no voter cannot be written. */
function voterHint(voters: readonly NodeId[], hint: NodeId | undefined): number {
  if (hint === undefined) return 0;
  const at = voters.indexOf(hint);
  if (at < 0) throw new CodecError(CodecErrorReason.Malformed, `leader hint ${hint} is not a voter`);
  return at + 1;
}
