/** Raft peer links over WebSocket: the public surface of this folder. */
export { BackoffConfigError, type BackoffOptions } from './backoff.ts';
export { CodecError, CodecErrorReason } from './bytes.ts';
export { decodeGroupMessage, decodeMessage, encodeMessage, PROTOCOL_VERSION } from './codec.ts';
export { GroupConfigError, GroupEndpoint, type GroupHandlers, type GroupId, GroupIds, isGroupId } from './groups.ts';
export { CloseCode, HandshakeError } from './handshake.ts';
export { TRANSPORT_DEFAULTS, TransportConfigError } from './limits.ts';
export { LinkState, type LinkStats } from './link.ts';
export { SnapshotTransferError } from './snapshot-chunks.ts';
export { PEER_PATH } from './socket.ts';
export { type Peer, Transport, type TransportOptions } from './transport.ts';
