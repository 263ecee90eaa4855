import { type ConfChange, ConfChangeDecodeError, ConfChangeType, type ConfState, InvalidConfChangeError } from './types.ts';

/**
 * Binary layout of a ConfChange entry (version 1):
 *   u8 version | u8 type | u16 node length | node (utf-8) | u32 context length | context
 */
const VERSION = 1;
const TYPE_CODES = [ConfChangeType.AddLearner, ConfChangeType.AddVoter, ConfChangeType.RemoveNode] as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const node = encoder.encode(cc.node);
  const context = cc.context ?? new Uint8Array();
  if (node.length > 0xffff) throw new InvalidConfChangeError('node id too long');
  const out = new Uint8Array(2 + 2 + node.length + 4 + context.length);
  const view = new DataView(out.buffer);
  out[0] = VERSION;
  out[1] = TYPE_CODES.indexOf(cc.type);
  view.setUint16(2, node.length);
  out.set(node, 4);
  view.setUint32(4 + node.length, context.length);
  out.set(context, 8 + node.length);
  return out;
}

export function decodeConfChange(b: Uint8Array): ConfChange {
  if (b.length < 8) throw new ConfChangeDecodeError(`conf change too short (${b.length} bytes)`);
  if (b[0] !== VERSION) throw new ConfChangeDecodeError(`unknown conf change version ${b[0]}`);
  const type = TYPE_CODES[b[1]];
  if (type === undefined) throw new ConfChangeDecodeError(`unknown conf change type ${b[1]}`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const nodeLen = view.getUint16(2);
  if (8 + nodeLen > b.length) throw new ConfChangeDecodeError('conf change node id truncated');
  let node: string;
  try {
    node = decoder.decode(b.subarray(4, 4 + nodeLen));
  } catch {
    throw new ConfChangeDecodeError('conf change node id is not utf-8');
  }
  const ctxLen = view.getUint32(4 + nodeLen);
  if (8 + nodeLen + ctxLen !== b.length) throw new ConfChangeDecodeError('conf change context length mismatch');
  const context = b.slice(8 + nodeLen);
  return ctxLen > 0 ? { type, node, context } : { type, node };
}

/**
 * The configuration after one single-server change (dissertation 4.1). Adding a learner that
 * is a voter demotes it; AddVoter promotes a learner; changes that change nothing are no-ops.
 */
export function applyToConfState(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== cc.node);
  const learners = conf.learners.filter((id) => id !== cc.node);
  if (cc.type === ConfChangeType.AddVoter) voters.push(cc.node);
  else if (cc.type === ConfChangeType.AddLearner) learners.push(cc.node);
  return { voters: voters.sort(), learners: learners.sort() };
}

/** Throws InvalidConfChangeError for a change that must never be proposed. */
export function validateConfChange(conf: ConfState, cc: ConfChange): void {
  if (cc.node === '') throw new InvalidConfChangeError('conf change without a node id');
  if (!TYPE_CODES.includes(cc.type)) throw new InvalidConfChangeError(`unknown conf change type ${cc.type}`);
  if (applyToConfState(conf, cc).voters.length === 0) {
    throw new InvalidConfChangeError(`conf change ${cc.type} ${cc.node} would leave no voters`);
  }
}
