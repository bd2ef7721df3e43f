// Entities: what a handle refers to, as authorization sees it (Part 1 §16 "Names", §19.2
// "Authorization roles"). Every handle the pipeline accepts resolves here to a Name, an
// authValue, an authPolicy and the rules for which kind of authorization its roles accept.

import { TPM_ALG, TPM_HT, TPMA_NV, TPMA_OBJECT } from '../wire/constants.js';
import type { Tpm } from './tpm.js';

export interface Entity {
  handle: number;
  /** Part 1 §16: the handle itself for PCRs, permanent handles and sessions; nameAlg||H(public) otherwise. */
  name: Buffer;
  authValue: Buffer;
  authPolicy: Buffer;
  /** Hash algorithm of authPolicy (TPM_ALG_NULL when it has none). */
  policyAlg: number;
  /** Failed authorizations count toward dictionary-attack lockout. */
  daProtected: boolean;
  /** USER role may be given by password/HMAC (objects: TPMA_OBJECT.userWithAuth). */
  userWithAuth: boolean;
  /** ADMIN role requires a policy session (objects: TPMA_OBJECT.adminWithPolicy). */
  adminWithPolicy: boolean;
}

export function handleType(h: number): number {
  return h >>> 24;
}

/** Shared and never written: entities without an authValue or policy point here. */
const EMPTY: Buffer = Buffer.alloc(0);

function handleName(h: number): Buffer {
  const b = Buffer.allocUnsafe(4); // pooled; every byte is written next

  b.writeUInt32BE(h >>> 0);
  return b;
}

export class Entities {
  constructor(private readonly tpm: Tpm) {}

  exists(h: number): boolean {
    if (!this.tpm.isVisible(h)) return false;
    switch (handleType(h)) {
      case TPM_HT.PCR:
        return h < this.tpm.pcr.count;
      case TPM_HT.NV_INDEX:
        return this.tpm.nv.isAccessible(h, this.tpm.hierarchy);
      case TPM_HT.HMAC_SESSION:
      case TPM_HT.POLICY_SESSION:
        return this.tpm.sessions.has(h);
      case TPM_HT.PERMANENT:
        return this.tpm.hierarchy.isPermanentHandle(h);
      case TPM_HT.TRANSIENT:
      case TPM_HT.PERSISTENT:
        return this.tpm.objects.has(h);
      default:
        return false;
    }
  }

  /**
   * The handle exists but its hierarchy is disabled (reference EntityGetLoadStatus): a disabled
   * hierarchy's own handle, or a persistent object in it. The caller answers TPM_RC_HIERARCHY.
   */
  inDisabledHierarchy(h: number): boolean {
    switch (handleType(h)) {
      case TPM_HT.PERMANENT:
        return !this.tpm.hierarchy.isEnabled(h);
      case TPM_HT.PERSISTENT:
        return !this.tpm.hierarchy.isEnabled(this.tpm.objects.get(h).hierarchy);
      default:
        return false;
    }
  }

  /** The Name of whatever the handle refers to (Part 1 §16). */
  name(h: number): Buffer {
    switch (handleType(h)) {
      case TPM_HT.NV_INDEX:
        return this.tpm.nv.get(h).name;
      case TPM_HT.TRANSIENT:
      case TPM_HT.PERSISTENT:
        return this.tpm.objects.get(h).name;
      default:
        return handleName(h);
    }
  }

  resolve(h: number): Entity {
    // One object shape for every kind of entity keeps this hot path monomorphic.
    const e: Entity = {
      handle: h,
      name: this.name(h),
      authValue: EMPTY,
      authPolicy: EMPTY,
      policyAlg: TPM_ALG.NULL,
      daProtected: false,
      userWithAuth: true,
      adminWithPolicy: false,
    };
    switch (handleType(h)) {
      case TPM_HT.NV_INDEX: {
        const nv = this.tpm.nv.get(h);
        e.authValue = nv.authValue;
        e.authPolicy = nv.public.authPolicy;
        e.policyAlg = nv.public.nameAlg;
        e.daProtected = (nv.public.attributes & TPMA_NV.NO_DA) === 0;
        break;
      }
      case TPM_HT.TRANSIENT:
      case TPM_HT.PERSISTENT: {
        const obj = this.tpm.objects.get(h);
        const attrs = obj.public.objectAttributes;
        e.authValue = obj.authValue;
        e.authPolicy = obj.public.authPolicy;
        e.policyAlg = obj.public.nameAlg;
        e.daProtected = (attrs & TPMA_OBJECT.noDA) === 0;
        e.userWithAuth = (attrs & TPMA_OBJECT.userWithAuth) !== 0;
        e.adminWithPolicy = (attrs & TPMA_OBJECT.adminWithPolicy) !== 0;
        break;
      }
      case TPM_HT.PERMANENT: {
        // Hierarchy authorizations are not DA-protected; lockoutAuth has its own recovery rule.
        const hi = this.tpm.hierarchy.authOf(h);
        e.authValue = hi.authValue;
        e.authPolicy = hi.authPolicy;
        e.policyAlg = hi.policyAlg;
        break;
      }
    }
    return e;
  }

}
