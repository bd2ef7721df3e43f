// The block stream: a block session's operations as binary frames on one connection, instead of
// one HTTP request each. The adapter opens it with an HTTP/1.1 upgrade on the data plane
//
//   GET /v1/block-sessions/{id}/stream   Connection: Upgrade, Upgrade: sealkeep-blocks/2,
//                                        Authorization: Sealkeep-Session <seq>.<tag> (no body)
//
// and after `101 Switching Protocols` both ends write frames (integers big-endian). Every request
// is exactly the sealed block request it stands for: its body sealed under the session key with
// the seq it carries and the AAD of `POST /v1/block-sessions/{id}/blocks/{op}?lba={lba}`
// (block-session.ts), the same sequence numbers, the same answer seal — only the HTTP around it
// is gone. Requests are pipelined; answers come back as their batches finish, in any order, each
// naming the seq it answers.
//
//   request  u32 body length ‖ u8 op (1 + index in BLOCK_OPS) ‖ 3 zero bytes ‖ u64 seq ‖ u64 lba
//            ‖ tag (16) ‖ body (sealed)                                          40-byte header
//   answer   u32 body length ‖ u16 status ‖ u8 kind ‖ 1 zero byte ‖ u64 seq ‖ tag (16) ‖ body
//            kind 0: 2xx, the operation's answer sealed (IV 0x00000001 ‖ seq), tag its seal
//            kind 1: an RFC 9457 problem document (JSON, not sealed), tag zero; status is its
//                    HTTP status; seq 0 when it is about the stream itself, which then closes

export const BLOCK_STREAM_PROTOCOL = 'sealkeep-blocks/2';
export const BLOCK_OPS = ['encrypt', 'encrypt-sign', 'sign', 'verify', 'decrypt', 'verify-decrypt'] as const;
export type BlockOp = (typeof BLOCK_OPS)[number];

export const REQUEST_HEADER_BYTES = 40;
export const ANSWER_HEADER_BYTES = 32;
export const ANSWER_SEALED = 0;
export const ANSWER_PROBLEM = 1;

export interface RequestFrameHeader {
  length: number;
  op: BlockOp;
  seq: number;
  lba: bigint;
  tag: Buffer;
}

export interface AnswerFrameHeader {
  length: number;
  status: number;
  kind: typeof ANSWER_SEALED | typeof ANSWER_PROBLEM;
  seq: number;
  tag: Buffer;
}

/** The stream path of a session, and the URL a frame's seal binds (the block route it stands for). */
export const blockStreamPath = (sessionId: string) => `/v1/block-sessions/${sessionId}/stream`;
export const blockRequestUrl = (sessionId: string, op: BlockOp, lba: bigint) => `/v1/block-sessions/${sessionId}/blocks/${op}?lba=${lba}`;

export function encodeRequestHeader(h: RequestFrameHeader): Buffer {
  const out = Buffer.alloc(REQUEST_HEADER_BYTES);
  out.writeUInt32BE(h.length, 0);
  out[4] = BLOCK_OPS.indexOf(h.op) + 1;
  out.writeBigUInt64BE(BigInt(h.seq), 8);
  out.writeBigUInt64BE(h.lba, 16);
  h.tag.copy(out, 24);
  return out;
}

/** A request header, or why it is not one (a stream that sends one is closed). */
export function decodeRequestHeader(bytes: Uint8Array, maxLength: number): RequestFrameHeader | string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, REQUEST_HEADER_BYTES);
  const op = BLOCK_OPS[b[4]! - 1];
  if (op === undefined) return `unknown operation code ${b[4]}`;
  if (b[5] !== 0 || b[6] !== 0 || b[7] !== 0) return 'reserved bytes are not zero';
  const length = b.readUInt32BE(0);
  if (length > maxLength) return `a frame's body is at most ${maxLength} bytes`;
  const seq = b.readBigUInt64BE(8);
  if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER)) return 'the sequence number is outside 1 … 2^53−1';
  return { length, op, seq: Number(seq), lba: b.readBigUInt64BE(16), tag: Buffer.from(b.subarray(24, 40)) };
}

export function encodeAnswerHeader(h: AnswerFrameHeader): Buffer {
  const out = Buffer.alloc(ANSWER_HEADER_BYTES);
  out.writeUInt32BE(h.length, 0);
  out.writeUInt16BE(h.status, 4);
  out[6] = h.kind;
  out.writeBigUInt64BE(BigInt(h.seq), 8);
  h.tag.copy(out, 16);
  return out;
}

/** An answer header, or why it is not one. */
export function decodeAnswerHeader(bytes: Uint8Array): AnswerFrameHeader | string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, ANSWER_HEADER_BYTES);
  const kind = b[6];
  if (kind !== ANSWER_SEALED && kind !== ANSWER_PROBLEM) return `unknown answer kind ${kind}`;
  if (b[7] !== 0) return 'reserved byte is not zero';
  const status = b.readUInt16BE(4);
  if (kind === ANSWER_SEALED ? status < 200 || status > 299 : status < 400 || status > 599) return `status ${status} does not go with answer kind ${kind}`;
  return { length: b.readUInt32BE(0), status, kind, seq: Number(b.readBigUInt64BE(8)), tag: Buffer.from(b.subarray(16, 32)) };
}
