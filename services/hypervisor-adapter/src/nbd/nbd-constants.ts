// The NBD wire constants, declared once with the names the protocol specification gives them
// (NetworkBlockDevice/nbd doc/proto.md, "Values"), so each can be found in the spec by name:
// NBD_OPT.GO is `NBD_OPT_GO`, NBD_FLAG.SEND_FUA is `NBD_FLAG_SEND_FUA`, NBD_ERROR.EIO is
// `NBD_EIO`. All integers on the wire are big-endian.

/** 'NBDMAGIC', first thing the server sends (also known as INIT_PASSWD). */
export const NBDMAGIC = 0x4e42444d41474943n;
/** 'IHAVEOPT': the newstyle magic, sent by the server after NBDMAGIC and before every option. */
export const IHAVEOPT = 0x49484156454f5054n;
/** Magic at the start of every option reply in fixed newstyle negotiation. */
export const NBD_REP_MAGIC = 0x3e889045565a9n;
export const NBD_REQUEST_MAGIC = 0x25609513;
export const NBD_SIMPLE_REPLY_MAGIC = 0x67446698;
export const NBD_STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags (16 bits, server → client). */
export const NBD_FLAG_HANDSHAKE = {
  FIXED_NEWSTYLE: 1 << 0,
  NO_ZEROES: 1 << 1,
} as const;

/** Client flags (32 bits, client → server). */
export const NBD_FLAG_C = {
  FIXED_NEWSTYLE: 1 << 0,
  NO_ZEROES: 1 << 1,
} as const;

/** Transmission flags (16 bits, per export). */
export const NBD_FLAG = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Option types, sent by the client during option haggling. */
export const NBD_OPT = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  PEEK_EXPORT: 4,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

const ERROR_BIT = 2 ** 31;
/** Option reply types; the errors have bit 31 set. */
export const NBD_REP = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: ERROR_BIT + 1,
  ERR_POLICY: ERROR_BIT + 2,
  ERR_INVALID: ERROR_BIT + 3,
  ERR_PLATFORM: ERROR_BIT + 4,
  ERR_TLS_REQD: ERROR_BIT + 5,
  ERR_UNKNOWN: ERROR_BIT + 6,
  ERR_SHUTDOWN: ERROR_BIT + 7,
  ERR_BLOCK_SIZE_REQD: ERROR_BIT + 8,
  ERR_TOO_BIG: ERROR_BIT + 9,
} as const;

/** Information types in NBD_REP_INFO replies to NBD_OPT_INFO and NBD_OPT_GO. */
export const NBD_INFO = {
  EXPORT: 0,
  NAME: 1,
  DESCRIPTION: 2,
  BLOCK_SIZE: 3,
} as const;

/** Request types in the transmission phase. */
export const NBD_CMD = {
  READ: 0,
  WRITE: 1,
  DISC: 2,
  FLUSH: 3,
  TRIM: 4,
  CACHE: 5,
  WRITE_ZEROES: 6,
  BLOCK_STATUS: 7,
  RESIZE: 8,
} as const;

/** Structured reply chunk flags (16 bits). */
export const NBD_REPLY_FLAG = {
  DONE: 1 << 0,
} as const;

/** Structured reply chunk types (16 bits); the errors have bit 15 set. */
export const NBD_REPLY_TYPE = {
  NONE: 0,
  OFFSET_DATA: 1,
  OFFSET_HOLE: 2,
  BLOCK_STATUS: 5,
  ERROR: 2 ** 15 + 1,
  ERROR_OFFSET: 2 ** 15 + 2,
} as const;

/** The one metadata context served, and its status flags (spec, "`base:` meta context"). */
export const BASE_ALLOCATION = 'base:allocation';
export const NBD_STATE = {
  HOLE: 1 << 0,
  ZERO: 1 << 1,
} as const;

/** Command flags (16 bits, per request). */
export const NBD_CMD_FLAG = {
  FUA: 1 << 0,
  NO_HOLE: 1 << 1,
  DF: 1 << 2,
  REQ_ONE: 1 << 3,
  FAST_ZERO: 1 << 4,
} as const;

/** Error values in replies (`NBD_EPERM` …); the spec fixes them, independent of the host's errno. */
export const NBD_ERROR = {
  EPERM: 1,
  EIO: 5,
  ENOMEM: 12,
  EINVAL: 22,
  ENOSPC: 28,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  ESHUTDOWN: 108,
} as const;

/** Fixed sizes of the messages. */
export const OPTION_HEADER_BYTES = 16; // IHAVEOPT, option, length
export const REQUEST_HEADER_BYTES = 28; // magic, flags, type, handle, offset, length
export const SIMPLE_REPLY_HEADER_BYTES = 16; // magic, error, handle
export const STRUCTURED_REPLY_HEADER_BYTES = 20; // magic, flags, type, handle, length
/** Reserved zeroes after the NBD_OPT_EXPORT_NAME reply unless NO_ZEROES was agreed. */
export const EXPORT_NAME_RESERVED_ZEROES = 124;
/** Strings (export names, messages) MUST be no longer than this. */
export const NBD_MAX_STRING_BYTES = 4096;

/** The spelled name of a value in one of the tables above, for logs: nameOf(NBD_CMD, 1) = 'WRITE'. */
export function nameOf(table: Readonly<Record<string, number>>, value: number): string {
  for (const [name, v] of Object.entries(table)) if (v === value) return name;
  return `unknown (${value})`;
}
