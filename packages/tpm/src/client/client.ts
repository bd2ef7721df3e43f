// The typed TPM client: marshals a command from the same descriptor the engine executes,
// sends it over a Transport, and unmarshals the response (throwing TpmError for a non-zero
// response code). Works against this package's engine, swtpm, or a hardware TPM.

import { Reader, Writer } from '../wire/codec.js';
import { TPM_RC, TPM_ST } from '../wire/constants.js';
import { TpmError } from '../wire/rc.js';
import { cpHash, rpHash } from '../crypto/session-auth.js';
import type { AnyCommand, CommandHandlesOf, ParamsOf, ResponseOf } from '../engine/command.js';
import { decryptResponse, prepareCommand, type CommandAuthorization } from './auth.js';
import type { Transport } from './transport.js';

export interface CallOptions {
  /** One authorization per handle with an auth role, in handle order; then any extra sessions. */
  auth?: CommandAuthorization[];
  /** Auth values of the entities authorized, in the same order (for HMAC computation). */
  entityAuth?: Buffer[];
  /** Names of the command's handles, in order (needed for HMAC sessions' cpHash). */
  names?: Buffer[];
}

function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The authValue of the entity session i authorizes (empty for sessions beyond the authorized handles). */
function entityAuthAt(opts: CallOptions, authCount: number): (i: number) => Buffer {
  return (i) => (i < authCount ? opts.entityAuth?.[i] : undefined) ?? Buffer.alloc(0);
}

const RETRYABLE = new Set<number>([TPM_RC.RETRY, TPM_RC.YIELDED, TPM_RC.TESTING]);
const MAX_ATTEMPTS = 8;

export class TpmClient {
  constructor(readonly transport: Transport) {}

  /** Marshal a command (exposed for tests and for the fuzzer's seed corpus). */
  static marshalCommand<C extends AnyCommand>(
    cmd: C,
    handles: CommandHandlesOf<C>,
    params: ParamsOf<C>,
    opts: CallOptions = {},
  ): Buffer {
    const w = new Writer();
    const sessions = opts.auth ?? [];
    w.u16(sessions.length > 0 ? TPM_ST.SESSIONS : TPM_ST.NO_SESSIONS);
    w.u32(0);
    w.u32(cmd.code);
    const hs = handles as Record<string, number>;
    for (const name of cmd.handleNames) w.u32(hs[name]!);
    const pw = new Writer();
    cmd.params.encode(pw, params);
    let paramBytes = pw.finish();
    if (sessions.length > 0) {
      const names = opts.names ?? cmd.handleNames.map((n) => u32be(hs[n]!));
      const authNames = cmd.handleNames.filter((n) => cmd.handles[n]!.auth);
      paramBytes = prepareCommand(sessions, authNames.length, entityAuthAt(opts, authNames.length), paramBytes);
      const cpHashFor = (alg: number) => cpHash(alg, cmd.code, names, paramBytes);
      const aw = new Writer();
      sessions.forEach((s, i) => {
        const entityIdx = i < authNames.length ? cmd.handleNames.indexOf(authNames[i]!) : -1;
        const a = s.authorize(cpHashFor, opts.entityAuth?.[i] ?? Buffer.alloc(0), entityIdx >= 0 ? names[entityIdx] : undefined);
        aw.u32(s.handle);
        aw.u16(a.nonce.length);
        aw.bytes(a.nonce);
        aw.u8(a.attributes);
        aw.u16(a.hmac.length);
        aw.bytes(a.hmac);
      });
      const area = aw.finish();
      w.u32(area.length);
      w.bytes(area);
    }
    w.bytes(paramBytes);
    const out = w.finish();
    out.writeUInt32BE(out.length, 2);
    return out;
  }

  /** Send a command and return its typed response. */
  async call<C extends AnyCommand>(
    cmd: C,
    handles: CommandHandlesOf<C>,
    params: ParamsOf<C>,
    opts: CallOptions = {},
  ): Promise<ResponseOf<C>> {
    // TPM_RC_RETRY, _YIELDED and _TESTING ask the caller to send the same command again
    // (Part 2 §6.6.3); a TSS retries them a bounded number of times.
    for (let attempt = 1; ; attempt++) {
      const bytes = TpmClient.marshalCommand(cmd, handles, params, opts);
      const resp = await this.transport.send(bytes);
      const rc = resp.length >= 10 ? resp.readUInt32BE(6) : TPM_RC.SUCCESS;
      if (attempt < MAX_ATTEMPTS && RETRYABLE.has(rc)) continue;
      return TpmClient.unmarshalResponse(cmd, resp, opts);
    }
  }

  static unmarshalResponse<C extends AnyCommand>(cmd: C, resp: Buffer, opts: CallOptions = {}): ResponseOf<C> {
    const r = new Reader(resp);
    const tag = r.u16();
    const size = r.u32();
    const rc = r.u32();
    if (size !== resp.length) throw new TpmError(TPM_RC.SIZE, `${cmd.name}: response size ${size} != ${resp.length} bytes received`);
    if (rc !== TPM_RC.SUCCESS) throw new TpmError(rc, cmd.name);
    const out: Record<string, unknown> = {};
    for (const name of cmd.responseHandleNames) out[name] = r.u32();
    let paramBytes: Buffer;
    if (tag === TPM_ST.SESSIONS) {
      const n = r.u32();
      paramBytes = r.bytes(n);
    } else {
      paramBytes = r.bytes(r.remaining);
    }
    if (tag === TPM_ST.SESSIONS) {
      const sent = paramBytes;
      const rpHashFor = (alg: number) => rpHash(alg, TPM_RC.SUCCESS, cmd.code, sent);
      for (const s of opts.auth ?? []) {
        const nonceLen = r.u16();
        const nonce = r.bytes(nonceLen);
        const attributes = r.u8();
        const macLen = r.u16();
        s.verify(rpHashFor, nonce, attributes, r.bytes(macLen));
      }
      const authCount = cmd.handleNames.filter((n) => cmd.handles[n]!.auth).length;
      paramBytes = decryptResponse(opts.auth ?? [], entityAuthAt(opts, authCount), paramBytes);
    }
    const pr = new Reader(paramBytes);
    for (const [name, codec] of cmd.responseFields) out[name] = codec.decode(pr);
    return out as ResponseOf<C>;
  }
}
