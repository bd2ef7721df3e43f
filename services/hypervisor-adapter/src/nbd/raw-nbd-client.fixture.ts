// A minimal NBD client for tests, written from the spec like the server but independently of its
// codec: it can send what real clients never send (bad magic, unknown options, oversized
// requests) and keep several requests in flight, matching replies by handle. It reads simple
// replies and, once it negotiated them, structured ones (every chunk kept, up to the DONE one).

import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import {
  IHAVEOPT,
  NBDMAGIC,
  NBD_CMD,
  NBD_FLAG_C,
  NBD_INFO,
  NBD_OPT,
  NBD_REP,
  NBD_REP_MAGIC,
  NBD_REPLY_FLAG,
  NBD_REPLY_TYPE,
  NBD_REQUEST_MAGIC,
  NBD_SIMPLE_REPLY_MAGIC,
  NBD_STRUCTURED_REPLY_MAGIC,
} from './nbd-constants.js';
import { SocketReader } from './socket-reader.js';

export interface OptionReply {
  type: number;
  data: Buffer;
}

export interface Chunk {
  flags: number;
  type: number;
  payload: Buffer;
}

export interface Reply {
  error: number;
  data?: Buffer;
  /** A structured reply: its chunks in the order they came (the last one DONE). */
  chunks?: Chunk[];
  /** A structured error chunk's message. */
  message?: string;
  /** A BLOCK_STATUS chunk's context id and (length, status flags) descriptors. */
  status?: { context: number; extents: Array<[number, number]> };
}

interface InFlight {
  readLength: number;
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

export class RawNbdClient {
  readonly socket: Socket;
  readonly reader: SocketReader;
  handshakeFlags = 0;
  #nextHandle = 1n;
  readonly #inFlight = new Map<bigint, InFlight>();
  #replies: Promise<void> | null = null;

  private constructor(socket: Socket, reader: SocketReader) {
    this.socket = socket;
    this.reader = reader;
  }

  /** Connects and reads the server's greeting; sends no client flags yet. */
  static async connect(port: number, host = '127.0.0.1'): Promise<RawNbdClient> {
    const reader = new SocketReader();
    const socket = connect({ port, host, onread: reader.onread });
    reader.attach(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    await once(socket, 'connect');
    const client = new RawNbdClient(socket, reader);
    const greeting = await client.reader.read(18);
    if (greeting.readBigUInt64BE(0) !== NBDMAGIC || greeting.readBigUInt64BE(8) !== IHAVEOPT) throw new Error('not a newstyle NBD server');
    client.handshakeFlags = greeting.readUInt16BE(16);
    return client;
  }

  /**
   * Connects, negotiates fixed newstyle with NO_ZEROES and enters transmission on `name` with
   * NBD_OPT_GO; with `structured`, negotiates structured replies first and selects `contexts`.
   */
  static async open(port: number, name: string, options: { structured?: boolean; contexts?: string[] } = {}): Promise<{ client: RawNbdClient; size: bigint; flags: number; contextIds: Map<string, number> }> {
    const client = await RawNbdClient.connect(port);
    client.sendClientFlags(NBD_FLAG_C.FIXED_NEWSTYLE | NBD_FLAG_C.NO_ZEROES);
    const contextIds = new Map<string, number>();
    if (options.structured) {
      if ((await client.option(NBD_OPT.STRUCTURED_REPLY))[0]!.type !== NBD_REP.ACK) throw new Error('structured replies refused');
      if (options.contexts) {
        for (const r of await client.option(NBD_OPT.SET_META_CONTEXT, metaContextRequest(name, options.contexts))) {
          if (r.type === NBD_REP.META_CONTEXT) contextIds.set(r.data.toString('utf8', 4), r.data.readUInt32BE(0));
        }
      }
    }
    const replies = await client.option(NBD_OPT.GO, infoRequest(name, [NBD_INFO.BLOCK_SIZE]));
    const last = replies[replies.length - 1]!;
    if (last.type !== NBD_REP.ACK) throw new Error(`NBD_OPT_GO refused: reply type ${last.type} ${last.data.toString()}`);
    const exportInfo = replies.find((r) => r.type === NBD_REP.INFO && r.data.readUInt16BE(0) === NBD_INFO.EXPORT)!;
    return { client, size: exportInfo.data.readBigUInt64BE(2), flags: exportInfo.data.readUInt16BE(10), contextIds };
  }

  sendClientFlags(flags: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(flags >>> 0, 0);
    this.socket.write(b);
  }

  /** Sends one option and reads replies up to the final one (ACK or an error; INFO and SERVER are not final). */
  async option(option: number, data: Buffer = Buffer.alloc(0)): Promise<OptionReply[]> {
    this.socket.write(Buffer.concat([optionHeader(option, data.length), data]));
    const replies: OptionReply[] = [];
    for (;;) {
      const head = await this.reader.read(20);
      if (head.readBigUInt64BE(0) !== NBD_REP_MAGIC) throw new Error('bad option reply magic');
      if (head.readUInt32BE(8) !== option) throw new Error('option reply for another option');
      const type = head.readUInt32BE(12);
      replies.push({ type, data: await this.reader.read(head.readUInt32BE(16)) });
      if (type !== NBD_REP.INFO && type !== NBD_REP.SERVER && type !== NBD_REP.META_CONTEXT) return replies;
    }
  }

  /** Sends a request (a WRITE carries `data`) and resolves with its reply; several may be in flight. */
  request(type: number, offset: bigint | number, length: number, options: { flags?: number; data?: Buffer } = {}): Promise<Reply> {
    const handle = this.#nextHandle++;
    const header = requestHeader(type, offset, length, { flags: options.flags ?? 0, handle });
    const reply = new Promise<Reply>((resolve, reject) => {
      this.#inFlight.set(handle, { readLength: type === NBD_CMD.READ ? length : 0, resolve, reject });
    });
    this.socket.write(options.data ? Buffer.concat([header, options.data]) : header);
    this.#replies ??= this.#readReplies();
    return reply;
  }

  /** NBD_CMD_DISC, then waits for the server to close. */
  async disconnect(): Promise<void> {
    this.socket.end(requestHeader(NBD_CMD.DISC, 0, 0));
    await this.closed();
  }

  /** Resolves once the server has closed the connection. */
  async closed(): Promise<void> {
    if (!this.socket.destroyed && this.socket.readyState !== 'closed') await once(this.socket, 'close');
  }

  destroy(): void {
    this.socket.destroy();
  }

  async #readReplies(): Promise<void> {
    try {
      const chunks = new Map<bigint, Chunk[]>();
      while (this.#inFlight.size > 0) {
        const head = await this.reader.read(16);
        const magic = head.readUInt32BE(0);
        if (magic === NBD_STRUCTURED_REPLY_MAGIC) {
          const handle = head.readBigUInt64BE(8);
          const pending = this.#inFlight.get(handle);
          if (!pending) throw new Error(`chunk for unknown handle ${handle}`);
          const length = (await this.reader.read(4)).readUInt32BE(0);
          const chunk = { flags: head.readUInt16BE(4), type: head.readUInt16BE(6), payload: await this.reader.read(length) };
          const all = [...(chunks.get(handle) ?? []), chunk];
          chunks.set(handle, all);
          if ((chunk.flags & NBD_REPLY_FLAG.DONE) === 0) continue;
          chunks.delete(handle);
          this.#inFlight.delete(handle);
          pending.resolve(structuredReply(all));
          continue;
        }
        if (magic !== NBD_SIMPLE_REPLY_MAGIC) throw new Error('bad reply magic');
        const handle = head.readBigUInt64BE(8);
        const pending = this.#inFlight.get(handle);
        if (!pending) throw new Error(`reply for unknown handle ${handle}`);
        this.#inFlight.delete(handle);
        const error = head.readUInt32BE(4);
        if (error === 0 && pending.readLength > 0) pending.resolve({ error, data: await this.reader.read(pending.readLength) });
        else pending.resolve({ error });
      }
    } catch (error) {
      for (const pending of this.#inFlight.values()) pending.reject(error as Error);
      this.#inFlight.clear();
    } finally {
      this.#replies = null;
      if (this.#inFlight.size > 0) this.#replies = this.#readReplies();
    }
  }
}

/** A structured reply's chunks read as one reply: the first error chunk's value and message, and the data chunks' bytes in offset order. */
function structuredReply(chunks: Chunk[]): Reply {
  const failed = chunks.find((c) => (c.type & 0x8000) !== 0);
  if (failed) {
    const length = failed.payload.readUInt16BE(4);
    return { error: failed.payload.readUInt32BE(0), message: failed.payload.toString('utf8', 6, 6 + length), chunks };
  }
  const pieces = chunks.filter((c) => c.type === NBD_REPLY_TYPE.OFFSET_DATA).sort((a, b) => Number(a.payload.readBigUInt64BE(0) - b.payload.readBigUInt64BE(0)));
  const status = chunks.find((c) => c.type === NBD_REPLY_TYPE.BLOCK_STATUS)?.payload;
  const extents: Array<[number, number]> = [];
  for (let at = 4; status && at + 8 <= status.length; at += 8) extents.push([status.readUInt32BE(at), status.readUInt32BE(at + 4)]);
  return {
    error: 0,
    chunks,
    ...(pieces.length ? { data: Buffer.concat(pieces.map((c) => c.payload.subarray(8))) } : {}),
    ...(status ? { status: { context: status.readUInt32BE(0), extents } } : {}),
  };
}

/** NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data. */
export function metaContextRequest(name: string, queries: string[]): Buffer {
  const strings = [name, ...queries].map((s) => Buffer.from(s, 'utf8'));
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  parts.push(u32(strings[0]!.length), strings[0]!, u32(queries.length));
  for (const q of strings.slice(1)) parts.push(u32(q.length), q);
  return Buffer.concat(parts);
}

/** NBD_OPT_INFO / NBD_OPT_GO data. */
export function infoRequest(name: string, infos: number[] = []): Buffer {
  const encoded = Buffer.from(name, 'utf8');
  const data = Buffer.alloc(4 + encoded.length + 2 + 2 * infos.length);
  data.writeUInt32BE(encoded.length, 0);
  encoded.copy(data, 4);
  data.writeUInt16BE(infos.length, 4 + encoded.length);
  infos.forEach((info, i) => data.writeUInt16BE(info, 6 + encoded.length + 2 * i));
  return data;
}

/** An option's header; a test may misstate the length of the data that follows, or break the magic. */
export function optionHeader(option: number, length: number, magic: bigint = IHAVEOPT): Buffer {
  const header = Buffer.alloc(16);
  header.writeBigUInt64BE(magic, 0);
  header.writeUInt32BE(option, 8);
  header.writeUInt32BE(length, 12);
  return header;
}

/** A request's header; a test may misstate the payload's length, or break the magic. */
export function requestHeader(
  type: number,
  offset: bigint | number,
  length: number,
  { flags = 0, handle = 0n, magic = NBD_REQUEST_MAGIC }: { flags?: number; handle?: bigint; magic?: number } = {},
): Buffer {
  const header = Buffer.alloc(28);
  header.writeUInt32BE(magic, 0);
  header.writeUInt16BE(flags, 4);
  header.writeUInt16BE(type, 6);
  header.writeBigUInt64BE(handle, 8);
  header.writeBigUInt64BE(BigInt(offset), 16);
  header.writeUInt32BE(length, 24);
  return header;
}
