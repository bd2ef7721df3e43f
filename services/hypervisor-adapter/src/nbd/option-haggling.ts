// The handshake phase, fixed newstyle (spec, "Fixed newstyle negotiation"): the server greets with
// NBDMAGIC, IHAVEOPT and its handshake flags, reads the client flags, then answers options until
// the client picks an export (NBD_OPT_GO, or NBD_OPT_EXPORT_NAME from older clients) or leaves
// (NBD_OPT_ABORT). Served: GO, INFO, LIST, ABORT, EXPORT_NAME, STRUCTURED_REPLY, and
// LIST_META_CONTEXT / SET_META_CONTEXT for the one metadata context there is (meta-contexts.ts);
// every other option (STARTTLS among them) is answered NBD_REP_ERR_UNSUP. A name no volume is
// attached under is answered NBD_REP_ERR_POLICY with the reason where the registry refused it,
// NBD_REP_ERR_UNKNOWN otherwise.

import type { Socket } from 'node:net';
import type { BlockVolume } from '../volume/block-volume.js';
import type { ExportRegistry } from './export-registry.js';
import { blockSizeConstraints, transmissionFlags } from './export-policy.js';
import {
  EXPORT_NAME_RESERVED_ZEROES,
  IHAVEOPT,
  NBDMAGIC,
  NBD_FLAG_C,
  NBD_FLAG_HANDSHAKE,
  NBD_INFO,
  NBD_MAX_STRING_BYTES,
  NBD_OPT,
  NBD_REP,
  NBD_REP_MAGIC,
  OPTION_HEADER_BYTES,
} from './nbd-constants.js';
import { answerMetaContexts, parseMetaContextRequest, type MetaContext } from './meta-contexts.js';
import { ProtocolError, type SocketReader } from './socket-reader.js';
import { nbdString } from './replies.js';

export interface ChosenExport {
  name: string;
  volume: BlockVolume;
  /** The transmission flags sent to the client for this export. */
  flags: number;
  /** The client negotiated structured replies. */
  structured: boolean;
  /** base:allocation's id, when the client selected it on this export; else block status is refused. */
  allocationContext: number | null;
}

const SERVER_HANDSHAKE_FLAGS = NBD_FLAG_HANDSHAKE.FIXED_NEWSTYLE | NBD_FLAG_HANDSHAKE.NO_ZEROES;
const KNOWN_CLIENT_FLAGS = NBD_FLAG_C.FIXED_NEWSTYLE | NBD_FLAG_C.NO_ZEROES;
/** Option data longer than this is taken for a denial of service: a name and a few info requests fit easily. */
const MAX_OPTION_DATA_BYTES = 64 * 1024;
/** A client still haggling after this many options is taken for a denial of service. */
const MAX_OPTIONS_PER_CONNECTION = 1000;

/** Runs the handshake; the chosen export, or null once the client aborted. Throws ProtocolError on a breach. */
export async function haggleOptions(socket: Socket, reader: SocketReader, exports: ExportRegistry): Promise<ChosenExport | null> {
  const greeting = Buffer.alloc(18);
  greeting.writeBigUInt64BE(NBDMAGIC, 0);
  greeting.writeBigUInt64BE(IHAVEOPT, 8);
  greeting.writeUInt16BE(SERVER_HANDSHAKE_FLAGS, 16);
  socket.write(greeting);

  const clientFlags = (await reader.read(4)).readUInt32BE(0);
  // "the server MUST drop the TCP connection if the client sets an unknown flag"
  if ((clientFlags & ~KNOWN_CLIENT_FLAGS) !== 0) throw new ProtocolError(`unknown client flags 0x${clientFlags.toString(16)}`);
  const fixedNewstyle = (clientFlags & NBD_FLAG_C.FIXED_NEWSTYLE) !== 0;
  const noZeroes = (clientFlags & NBD_FLAG_C.NO_ZEROES) !== 0;
  let structured = false;
  /** What the last NBD_OPT_SET_META_CONTEXT selected, on which export. */
  let selected: { exportName: string; contexts: MetaContext[] } | null = null;
  /** The contexts in force for the export the client goes into transmission with: those set on that same export. */
  const contextsFor = (name: string) => (selected?.exportName === name ? selected.contexts : []);
  const chosen = (name: string, volume: BlockVolume): ChosenExport => ({
    name,
    volume,
    flags: transmissionFlags(volume, structured),
    structured,
    allocationContext: contextsFor(name)[0]?.id ?? null,
  });

  for (let count = 0; count < MAX_OPTIONS_PER_CONNECTION; count++) {
    const header = await reader.read(OPTION_HEADER_BYTES);
    if (header.readBigUInt64BE(0) !== IHAVEOPT) throw new ProtocolError('an option did not start with IHAVEOPT');
    const option = header.readUInt32BE(8);
    const length = header.readUInt32BE(12);
    if (length > MAX_OPTION_DATA_BYTES) throw new ProtocolError(`option ${option} carries ${length} bytes of data`);
    const data = await reader.read(length);
    const reply = (type: number, payload?: Buffer | string) => writeOptionReply(socket, option, type, payload);

    if (option === NBD_OPT.EXPORT_NAME) {
      const name = data.toString('utf8');
      const volume = exports.get(name);
      // The one option that cannot answer an error: the spec has the server end the session.
      if (!volume) throw new ProtocolError(`NBD_OPT_EXPORT_NAME for ${notServed(exports, name).message}`);
      const export_ = chosen(name, volume);
      const answer = Buffer.alloc(10 + (noZeroes ? 0 : EXPORT_NAME_RESERVED_ZEROES));
      answer.writeBigUInt64BE(BigInt(volume.size), 0);
      answer.writeUInt16BE(export_.flags, 8);
      socket.write(answer);
      return export_;
    }
    // Without fixed newstyle, replies to other options cannot be framed: only a hard disconnect is left.
    if (!fixedNewstyle) throw new ProtocolError(`option ${option} from a client that did not ask for fixed newstyle`);

    switch (option) {
      case NBD_OPT.ABORT:
        reply(NBD_REP.ACK);
        return null;
      case NBD_OPT.LIST:
        if (length !== 0) {
          reply(NBD_REP.ERR_INVALID, 'NBD_OPT_LIST takes no data');
          break;
        }
        for (const name of exports.names()) {
          const encoded = Buffer.from(name, 'utf8');
          const server = Buffer.alloc(4 + encoded.length);
          server.writeUInt32BE(encoded.length, 0);
          encoded.copy(server, 4);
          reply(NBD_REP.SERVER, server);
        }
        reply(NBD_REP.ACK);
        break;
      case NBD_OPT.INFO:
      case NBD_OPT.GO: {
        const request = parseInfoRequest(data);
        if (typeof request === 'string') {
          reply(NBD_REP.ERR_INVALID, request);
          break;
        }
        const volume = exports.get(request.name);
        if (!volume) {
          const why = notServed(exports, request.name);
          reply(why.type, why.message);
          break;
        }
        const export_ = chosen(request.name, volume);
        reply(NBD_REP.INFO, infoExport(volume, export_.flags));
        // Sent whether asked or not (the spec allows unrequested information).
        reply(NBD_REP.INFO, infoBlockSize(volume));
        if (request.wanted.includes(NBD_INFO.NAME)) reply(NBD_REP.INFO, infoName(request.name));
        reply(NBD_REP.ACK);
        if (option === NBD_OPT.GO) return export_;
        break;
      }
      case NBD_OPT.STRUCTURED_REPLY:
        if (length !== 0) reply(NBD_REP.ERR_INVALID, 'NBD_OPT_STRUCTURED_REPLY takes no data');
        else if (structured) reply(NBD_REP.ERR_INVALID, 'structured replies are negotiated already');
        else {
          structured = true;
          reply(NBD_REP.ACK);
        }
        break;
      case NBD_OPT.LIST_META_CONTEXT:
      case NBD_OPT.SET_META_CONTEXT: {
        const setting = option === NBD_OPT.SET_META_CONTEXT;
        if (setting) selected = null; // a SET replaces what an earlier one selected, even when it fails
        if (!structured) {
          reply(NBD_REP.ERR_INVALID, 'metadata contexts need structured replies: send NBD_OPT_STRUCTURED_REPLY first');
          break;
        }
        const request = parseMetaContextRequest(data);
        if (typeof request === 'string') {
          reply(NBD_REP.ERR_INVALID, request);
          break;
        }
        if (!exports.get(request.exportName)) {
          const why = notServed(exports, request.exportName);
          reply(why.type, why.message);
          break;
        }
        const contexts = answerMetaContexts(setting ? 'set' : 'list', request.queries);
        for (const context of contexts) reply(NBD_REP.META_CONTEXT, context.reply);
        reply(NBD_REP.ACK);
        if (setting) selected = { exportName: request.exportName, contexts };
        break;
      }
      default:
        reply(NBD_REP.ERR_UNSUP, `option ${option} is not supported`);
    }
  }
  throw new ProtocolError(`more than ${MAX_OPTIONS_PER_CONNECTION} options without choosing an export`);
}

/** Why no export can be chosen under `name`: refused (and why), or unknown — in at most the 4096 bytes the spec allows a string. */
function notServed(exports: ExportRegistry, name: string): { type: number; message: string } {
  const refusal = exports.refusal(name);
  if (refusal !== undefined) return { type: NBD_REP.ERR_POLICY, message: nbdString(`export ${JSON.stringify(name)} is not served: ${refusal}`, '…') };
  return { type: NBD_REP.ERR_UNKNOWN, message: nbdString(`no export named ${JSON.stringify(name)}`, '…') };
}

/** NBD_OPT_INFO / NBD_OPT_GO data: u32 name length, name, u16 count, count × u16 information types. */
function parseInfoRequest(data: Buffer): { name: string; wanted: number[] } | string {
  if (data.length < 6) return 'option data shorter than 6 bytes';
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 6) return 'export name length runs past the option data';
  if (nameLength > NBD_MAX_STRING_BYTES) return `export name longer than ${NBD_MAX_STRING_BYTES} bytes`;
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 4 + nameLength + 2 + 2 * count) return 'information request count does not match the option length';
  const wanted: number[] = [];
  for (let i = 0; i < count; i++) wanted.push(data.readUInt16BE(6 + nameLength + 2 * i));
  return { name: data.toString('utf8', 4, 4 + nameLength), wanted };
}

function infoExport(volume: BlockVolume, flags: number): Buffer {
  const info = Buffer.alloc(12);
  info.writeUInt16BE(NBD_INFO.EXPORT, 0);
  info.writeBigUInt64BE(BigInt(volume.size), 2);
  info.writeUInt16BE(flags, 10);
  return info;
}

function infoBlockSize(volume: BlockVolume): Buffer {
  const { minimum, preferred, maximum } = blockSizeConstraints(volume);
  const info = Buffer.alloc(14);
  info.writeUInt16BE(NBD_INFO.BLOCK_SIZE, 0);
  info.writeUInt32BE(minimum, 2);
  info.writeUInt32BE(preferred, 6);
  info.writeUInt32BE(maximum, 10);
  return info;
}

function infoName(name: string): Buffer {
  const encoded = Buffer.from(name, 'utf8');
  const info = Buffer.alloc(2 + encoded.length);
  info.writeUInt16BE(NBD_INFO.NAME, 0);
  encoded.copy(info, 2);
  return info;
}

/** An option reply: NBD_REP_MAGIC, the option answered, the reply type, the data's length and the data. */
function writeOptionReply(socket: Socket, option: number, type: number, payload: Buffer | string = Buffer.alloc(0)): void {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const header = Buffer.alloc(20);
  header.writeBigUInt64BE(NBD_REP_MAGIC, 0);
  header.writeUInt32BE(option, 8);
  header.writeUInt32BE(type, 12);
  header.writeUInt32BE(data.length, 16);
  socket.write(data.length ? Buffer.concat([header, data]) : header);
}
