// The block routes' authenticator: a request under `Authorization: Sealkeep-Session` is checked
// against its session in memory (its sealed body opened, sequence number, and whether the session
// still holds); any other request goes to the listener's authenticator (request proofs), so the
// permission table decides for every caller the same way. A batch of sectors is opened by the
// block worker that runs it, before it touches a sector and off the event loop (with the
// PendingSeal below; sealHolds when a batch is refused before it reaches a worker); nothing it
// produced is answered, and its sequence number is not spent, unless the seal holds. Block
// operations are taken only sealed (requireSealed).

import type { Request } from 'express';
import { Problem } from '../../http/problems.js';
import { DEFAULT_MAX_BODY, type Authenticator, type Principal } from '../../http/mount.js';
import type { ProofRequest } from '../../auth/request-proof.js';
import type { BlockSession, BlockSessions } from './block-sessions.js';
import { BODY_SEALS, OTHER_BODY_SEALS, openBody, parseSessionAuthorization, SESSION_SCHEME, type BlockOp } from '@sealkeep/crypto';

const NO_BODY = Buffer.alloc(0);

export function sessionAuthenticator(sessions: () => BlockSessions | undefined) {
  return async (req: Request, listener: Authenticator): Promise<Principal | null> => {
    const held = heldSessionSeal(req, sessions);
    if (!held) return listener(req);
    const { s, parsed } = held;
    if (req.params.op === undefined) {
      // Opened where it lies: for a binary route the raw body is the body its handler is given.
      const body = (req as Request & { rawBody?: Buffer }).rawBody ?? NO_BODY;
      if (!openBody(s.key, parsed.seq, 'request', OTHER_BODY_SEALS.request, req.method, req.originalUrl, [body], parsed.tag)) throw new Problem('unauthenticated', 'the session seal does not verify');
      if (!s.seq.accept(parsed.seq)) throw new Problem('unauthenticated', 'this sequence number was already used (replay)');
    }
    return { id: s.principalId, name: s.principalName, role: 'hypervisor', tenantId: null };
  };
}

/**
 * What a session route's binary request may send before its body is read. Sealed under a session:
 * that session held by this process and the sequence number fresh (else 410 or 401 at once), and
 * then the route's whole limit. Under any other scheme the listener's authenticator and the
 * permission table decide, after the body — which may then be no larger than a JSON request's:
 * a caller not yet known holds none of the memory sessions need (sectors travel only sealed).
 */
export function sessionBeforeBody(sessions: () => BlockSessions | undefined) {
  return (req: Request): number => (heldSessionSeal(req, sessions) ? Infinity : DEFAULT_MAX_BODY);
}

/**
 * A request sealed under a session (`Authorization: Sealkeep-Session`): its session, which this
 * process must hold (else 410), and its seal, whose sequence number must be fresh (else 401).
 * Null for any other scheme. What can be checked before the body; the seal itself needs it.
 */
function heldSessionSeal(req: Request, sessions: () => BlockSessions | undefined): { s: BlockSession; parsed: NonNullable<ReturnType<typeof parseSessionAuthorization>> } | null {
  const header = req.header('authorization');
  if (!header?.startsWith(`${SESSION_SCHEME} `)) return null;
  const parsed = parseSessionAuthorization(header);
  if (!parsed) throw new Problem('unauthenticated', `expected "Authorization: ${SESSION_SCHEME} <seq>.<tag>"`);
  const s = sessions()?.get(String(req.params.sessionId));
  if (!s) throw endedProblem(sessions(), String(req.params.sessionId));
  if (!s.seq.fresh(parsed.seq)) throw new Problem('unauthenticated', 'this sequence number was already used (replay)');
  return { s, parsed };
}

/** The answer for a session this process does not hold: why it ended, when it remembers. */
export function endedProblem(sessions: BlockSessions | undefined, id: string): Problem {
  const reason = sessions?.endedBecause(id);
  return reason
    ? new Problem('session-ended', `the block session ended: ${reason}`, { reason })
    : new Problem('session-ended', 'no such block session (closed, ended, or opened on another node)');
}

/**
 * The session a route names, if the caller is the principal it was opened for and the session
 * still holds (the same check whichever way the request was authenticated).
 */
export async function sessionOf(sessions: BlockSessions | undefined, sessionId: string, principal: Principal | null): Promise<BlockSession> {
  const s = sessions?.get(sessionId);
  if (!s) throw endedProblem(sessions, sessionId);
  if (!principal || s.principalId !== principal.id) throw new Problem('session-ended', 'no such block session (closed, ended, or opened on another node)');
  const ended = await sessions!.stillHolds(s);
  if (ended) throw new Problem('session-ended', `the block session ended: ${ended}`, { reason: ended });
  return s;
}

/** What the block worker opens a batch with: the request's seq, method, URL and tag. */
export interface PendingSeal {
  seq: number;
  method: string;
  url: string;
  tag: Buffer;
}

/** A block operation's seal: sectors travel only sealed under their session, never under a request proof. */
export function requireSealed(signed: ProofRequest): PendingSeal {
  const parsed = parseSessionAuthorization(signed.authorization);
  if (!parsed) throw new Problem('unauthenticated', `block operations travel sealed under their session: "Authorization: ${SESSION_SCHEME} <seq>.<tag>"`);
  return { seq: parsed.seq, method: signed.method, url: signed.url, tag: parsed.tag };
}

/** The seal of a block operation checked here, on the event loop (for refusals, which the worker never sees); the body is opened in place and dropped. */
export function sealHolds(s: BlockSession, op: BlockOp, seal: PendingSeal, body: Buffer): boolean {
  return openBody(s.key, seal.seq, 'request', BODY_SEALS[op].request, seal.method, seal.url, [body], seal.tag);
}

/** After the worker (or sealHolds) found the seal good: spend the sequence number (a concurrent twin loses). */
export function spendSeq(s: BlockSession, seal: PendingSeal, sealOk: boolean): void {
  if (!sealOk) throw new Problem('unauthenticated', 'the session seal does not verify');
  if (!s.seq.accept(seal.seq)) throw new Problem('unauthenticated', 'this sequence number was already used (replay)');
}
