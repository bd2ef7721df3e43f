// Test support for the attestation, signing and credential tests: a started in-process TPM and
// a way to make primary keys from templates in any hierarchy.
import assert from 'node:assert/strict';
import { createVerify, verify as verifyRaw } from 'node:crypto';
import { TpmClient } from '../../client/client.js';
import { password } from '../../client/auth.js';
import { TPM_ALG, TPM_RH, TPMA_OBJECT } from '../../wire/constants.js';
import { TpmError } from '../../wire/rc.js';
import type { TPMT_PUBLIC, TPMT_SIGNATURE } from '../../wire/types/index.js';
import { publicKeyOf } from '../../engine/key-material.js';
import { Tpm } from '../../engine/tpm.js';
import { CreatePrimary } from '../hierarchy/index.js';
export { startedTpm } from '../../testing/in-process.js';

export async function primary(client: TpmClient, template: TPMT_PUBLIC, hierarchy: number = TPM_RH.OWNER, data = Buffer.alloc(0)) {
  return client.call(
    CreatePrimary,
    { primaryHandle: hierarchy },
    {
      inSensitive: { userAuth: Buffer.alloc(0), data },
      inPublic: template,
      outsideInfo: Buffer.alloc(0),
      creationPCR: [],
    },
    { auth: [password()] },
  );
}

/** A keyed-hash signing key (an HMAC key) with the given scheme. */
export function hmacKeyTemplate(scheme: number = TPM_ALG.HMAC): TPMT_PUBLIC {
  const A = TPMA_OBJECT;
  return {
    type: TPM_ALG.KEYEDHASH,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.sign,
    authPolicy: Buffer.alloc(0),
    parameters: { scheme: scheme === TPM_ALG.NULL ? { scheme, details: null } : { scheme, details: { hashAlg: TPM_ALG.SHA256 } } },
    unique: Buffer.alloc(0),
  } as TPMT_PUBLIC;
}

/** `t` with another signing scheme. */
export function withScheme(t: TPMT_PUBLIC, scheme: number, hashAlg: number = TPM_ALG.SHA256): TPMT_PUBLIC {
  const details = scheme === TPM_ALG.NULL ? null : { hashAlg };
  return { ...t, parameters: { ...(t.parameters as object), scheme: { scheme, details } } } as TPMT_PUBLIC;
}

export { password };

/** Verify a TPM signature over `data` with the public key of the object at `handle`. */
export function verifies(tpm: Tpm, handle: number, data: Buffer, sig: TPMT_SIGNATURE): boolean {
  const key = publicKeyOf(tpm.objects.get(handle));
  const s = sig.signature as { hash: number; sig?: Buffer; signatureR?: Buffer; signatureS?: Buffer };
  const hashName = s.hash === TPM_ALG.SHA256 ? 'sha256' : s.hash === TPM_ALG.SHA384 ? 'sha384' : 'sha1';
  if (sig.sigAlg === TPM_ALG.ECDSA) {
    return verifyRaw(hashName, data, { key, dsaEncoding: 'ieee-p1363' }, Buffer.concat([s.signatureR!, s.signatureS!]));
  }
  return createVerify(hashName).update(data).verify(sig.sigAlg === TPM_ALG.RSAPSS ? { key, padding: 6, saltLength: -2 } : key, s.sig!);
}

export async function rejects(p: Promise<unknown>, rc: number, where?: { kind: 'parameter' | 'handle'; index: number }) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TpmError, String(e));
    assert.equal(e.base, rc, `${e.message} is not 0x${rc.toString(16)}`);
    if (where) assert.deepEqual(e.location, where);
    return true;
  });
}


