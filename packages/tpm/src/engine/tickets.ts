// Tickets (Part 2 §10.7, Part 1 §... "Tickets"): HMACs the TPM makes with a hierarchy's proof
// value to vouch later for something it checked earlier — a digest it hashed (HASHCHECK), an
// object it created (CREATION), a signature it verified (VERIFIED). The proof of a hierarchy is
// derived from its seed, so TPM2_Clear (a new owner seed) voids every owner ticket.

import { createHmac } from 'node:crypto';
import { TPM_ALG, TPM_RH, TPM_ST } from '../wire/constants.js';
import { hmac } from '../crypto/hash.js';
import type { Tpm } from './tpm.js';

/** The proof value of a hierarchy (Part 1 §14.4): a secret derived from its seed. */
export function proof(tpm: Tpm, hierarchy: number): Buffer {
  return createHmac('sha256', tpm.hierarchy.seed(hierarchy)).update('sealkeep hierarchy proof').digest();
}

function tag(t: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(t);
  return b;
}

function ticket(tpm: Tpm, st: number, hierarchy: number, ...parts: Buffer[]) {
  if (hierarchy === TPM_RH.NULL) return { tag: st, hierarchy, digest: Buffer.alloc(0) };
  return { tag: st, hierarchy, digest: hmac(TPM_ALG.SHA256, proof(tpm, hierarchy), tag(st), ...parts) };
}

export function hashCheckTicket(tpm: Tpm, hierarchy: number, digest: Buffer) {
  return ticket(tpm, TPM_ST.HASHCHECK, hierarchy, digest);
}

export function creationTicket(tpm: Tpm, hierarchy: number, name: Buffer, creationHash: Buffer) {
  return ticket(tpm, TPM_ST.CREATION, hierarchy, name, creationHash);
}

export function verifiedTicket(tpm: Tpm, hierarchy: number, digest: Buffer, keyName: Buffer) {
  return ticket(tpm, TPM_ST.VERIFIED, hierarchy, digest, keyName);
}

/**
 * TPMT_TK_AUTH of TPM2_PolicySigned/PolicySecret (tag AUTH_SIGNED or AUTH_SECRET), checked by
 * TPM2_PolicyTicket with ticketMatches over the same parts (timeout, cpHashA, policyRef, Name).
 */
export function authTicket(tpm: Tpm, st: number, hierarchy: number, ...parts: Buffer[]) {
  return ticket(tpm, st, hierarchy, ...parts);
}

/** A ticket is good when it is the one this TPM would make now for the same inputs. */
export function ticketMatches(tpm: Tpm, t: { tag: number; hierarchy: number; digest: Buffer }, ...parts: Buffer[]): boolean {
  if (t.hierarchy === TPM_RH.NULL) return false;
  if (!tpm.hierarchy.seeds.has(t.hierarchy)) return false;
  return ticket(tpm, t.tag, t.hierarchy, ...parts).digest.equals(t.digest);
}
