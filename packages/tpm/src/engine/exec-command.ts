// The command pipeline (Part 3 §5 "Command Processing", after ms-tpm-20-ref ExecCommand.c):
//   1 header (tag, size, code)   2 startup state   3 handles (range, existence)
//   4 authorization area         5 authorization checks
//   6 parameter decryption and unmarshal   7 execute         8 response (params, encryption, session HMACs)
// Every failure at any step is a response code; nothing a caller sends can throw out of here.

import { Reader, Writer, WireError } from '../wire/codec.js';
import { TPM_RC, TPM_ST } from '../wire/constants.js';
import { rcHandle, rcParam, rcSession } from '../wire/rc.js';
import { TpmFault } from './command.js';
import { authorizeAll, finishSessions, parseAuthArea, type CommandAuth } from './authorize.js';
import type { Tpm } from './tpm.js';

const HEADER = 10;

export function errorResponse(rc: number): Buffer {
  const b = Buffer.alloc(HEADER);
  b.writeUInt16BE(TPM_ST.NO_SESSIONS, 0);
  b.writeUInt32BE(HEADER, 2);
  b.writeUInt32BE(rc >>> 0, 6);
  return b;
}

/** Run one command buffer at a locality; always returns a well-formed response. */
export function execCommand(tpm: Tpm, buf: Uint8Array, locality: number): Buffer {
  try {
    return run(tpm, buf, locality);
  } catch (e) {
    if (e instanceof TpmFault) return errorResponse(e.rc);
    if (e instanceof WireError) return errorResponse(e.rc);
    tpm.reportInternalError(e);
    return errorResponse(TPM_RC.FAILURE);
  }
}

function run(tpm: Tpm, buf: Uint8Array, locality: number): Buffer {
  // 1. header
  if (buf.length < HEADER) return errorResponse(TPM_RC.INSUFFICIENT);
  const r = new Reader(buf);
  const tag = r.u16();
  const size = r.u32();
  const code = r.u32();
  if (tag !== TPM_ST.SESSIONS && tag !== TPM_ST.NO_SESSIONS) return errorResponse(TPM_RC.BAD_TAG);
  if (size !== buf.length) return errorResponse(TPM_RC.COMMAND_SIZE);
  const cmd = tpm.commands.get(code);
  if (!cmd) return errorResponse(TPM_RC.COMMAND_CODE);

  // 2. startup state
  if (!tpm.started && !cmd.beforeStartup) return errorResponse(TPM_RC.INITIALIZE);
  if (tpm.failureMode) return errorResponse(TPM_RC.FAILURE);

  // 3. handles
  const handles: Record<string, number> = {};
  cmd.handleNames.forEach((name, i) => {
    const spec = cmd.handles[name]!;
    let h: number;
    try {
      h = spec.codec.decode(r);
    } catch (e) {
      if (e instanceof WireError) {
        throw new TpmFault(e.rc === TPM_RC.INSUFFICIENT ? TPM_RC.INSUFFICIENT : rcHandle(e.rc, i + 1));
      }
      throw e;
    }
    if (!tpm.entities.exists(h)) throw new TpmFault(rcHandle(TPM_RC.HANDLE, i + 1));
    if (tpm.entities.inDisabledHierarchy(h)) throw new TpmFault(rcHandle(TPM_RC.HIERARCHY, i + 1));
    handles[name] = h;
  });

  // 4. authorization area
  let auths: CommandAuth[] = [];
  if (tag === TPM_ST.SESSIONS) {
    auths = parseAuthArea(tpm, r);
  }
  const authHandles = cmd.handleNames.filter((n) => cmd.handles[n]!.auth);
  if (auths.length < authHandles.length) return errorResponse(TPM_RC.AUTH_MISSING);
  if (tag === TPM_ST.SESSIONS && auths.length === 0) return errorResponse(TPM_RC.AUTHSIZE);

  // 5. authorization checks (password, HMAC, policy) for every handle that needs one, before the
  //    parameters are decrypted or unmarshaled (reference ParseSessionBuffer)
  // A view, not a copy: cpHash covers the parameters as sent, and unmarshaling copies what it keeps.
  const paramStart = r.offset;
  const sentParams = Buffer.from(buf.buffer, buf.byteOffset + paramStart, buf.length - paramStart);
  authorizeAll(tpm, cmd, handles, authHandles, auths, sentParams, locality);

  // 6. parameters: decrypt the first TPM2B if a session asks, then unmarshal field by field
  let paramBytes: Buffer = sentParams;
  const decryptSession = auths.find((a) => a.session?.decrypts(a.attributes));
  if (decryptSession) {
    if (!cmd.encryptsFirstParam) throw new TpmFault(rcSession(TPM_RC.ATTRIBUTES, decryptSession.index));
    paramBytes = decryptSession.session!.decryptParameter(paramBytes, decryptSession);
  }
  const pr = new Reader(paramBytes);
  const params: Record<string, unknown> = {};
  cmd.paramFields.forEach(([name, codec], i) => {
    try {
      params[name] = codec.decode(pr);
    } catch (e) {
      if (e instanceof WireError) throw new TpmFault(rcParam(e.rc, i + 1));
      throw e;
    }
  });
  if (pr.remaining !== 0) return errorResponse(TPM_RC.SIZE);

  // 7. execute
  const out = cmd.execute(tpm, handles as never, params as never, { locality, commandCode: code }) as Record<
    string,
    unknown
  >;

  // 8. response
  const w = new Writer();
  w.u16(tag);
  w.u32(0); // responseSize, filled in at the end
  w.u32(TPM_RC.SUCCESS);
  for (const name of cmd.responseHandleNames) w.u32(out[name] as number);
  const pw = new Writer();
  for (const [name, codec] of cmd.responseFields) codec.encode(pw, out[name]);
  let rpParams = pw.finish();
  if (tag === TPM_ST.SESSIONS) {
    const encryptSession = auths.find((a) => a.session?.encrypts(a.attributes));
    for (const a of auths) a.session?.rollNonceTpm();
    if (encryptSession) {
      if (!cmd.decryptsFirstResponseParam) throw new TpmFault(rcSession(TPM_RC.ATTRIBUTES, encryptSession.index));
      rpParams = encryptSession.session!.encryptParameter(rpParams, encryptSession);
    }
    w.u32(rpParams.length);
    w.bytes(rpParams);
    finishSessions(tpm, cmd, auths, rpParams, w);
  } else {
    w.bytes(rpParams);
  }
  const response = w.finish();
  response.writeUInt32BE(response.length, 2);
  return response;
}
