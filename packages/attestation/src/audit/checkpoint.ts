// Audit checkpoints: the chain head (seq, hash) bound to the host TPM's clock and signed by its
// attestation key (AK). The service makes one periodically with makeCheckpoint(), routing the
// signature to TPM2_Sign with the AK; reviewers check it offline with verifyCheckpoint().
//
//   signedDigest = SHA-256(canonical({ seq, headHash, tpmClock, resetCount, restartCount }))
//   signature    = ES256: ECDSA P-256 over signedDigest, r||s (IEEE P1363, 32 bytes each, as
//                  TPMT_SIGNATURE carries them once left-padded — see ecdsaP1363()); DER accepted too
//                  RS256: RSASSA-PKCS1-v1_5 with SHA-256 over signedDigest
//   both base64 (standard alphabet). tpmClock is TPMS_CLOCK_INFO.clock as a decimal string
//   (a UINT64 in milliseconds); resetCount and restartCount are its UINT32 counters.
//
// The AK is a restricted signing key, so TPM2_Sign needs a TPM2_Hash ticket over the signed bytes:
// the sign callback therefore receives the canonical message as well as its digest.

import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { canonicalize } from './canonical.js';
import { GENESIS_HASH, HEX_256, type ChainHead } from './entry.js';

export type CheckpointSigAlg = 'ES256' | 'RS256';

export interface Checkpoint {
  kind: 'checkpoint';
  /** seq of the last entry covered (0 only for a checkpoint of an empty chain) */
  seq: number;
  /** hash of the entry at `seq` */
  headHash: string;
  tpmClock: string;
  resetCount: number;
  restartCount: number;
  signedDigest: string;
  signature: { alg: CheckpointSigAlg; value: string };
  akPublicKeyPem: string;
}

/** TPMS_CLOCK_INFO as read from the TPM (TPM2_ReadClock, or the clockInfo of an attestation). */
export interface TpmClockInfo {
  clock: bigint | string | number;
  resetCount: number;
  restartCount: number;
}

/** Signs a SHA-256 digest with the AK. `message` is what was hashed (for the TPM2_Hash ticket). */
export type CheckpointSigner = (digest: Buffer, message: Buffer) => Promise<{ alg: CheckpointSigAlg; value: string }>;

export type CheckpointCheck = { ok: true } | { ok: false; reason: string };

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

const DECIMAL_U64 = /^(0|[1-9]\d{0,19})$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isU32 = (n: unknown) => Number.isInteger(n) && (n as number) >= 0 && (n as number) <= 0xffffffff;

/** The bytes the AK signs (as a digest) — the canonical form of the covered fields. */
export function checkpointMessage(cp: Pick<Checkpoint, 'seq' | 'headHash' | 'tpmClock' | 'resetCount' | 'restartCount'>): Buffer {
  const { seq, headHash, tpmClock, resetCount, restartCount } = cp;
  return Buffer.from(canonicalize({ seq, headHash, tpmClock, resetCount, restartCount }), 'utf8');
}

/** r||s, each left-padded to the curve size — what a TPMS_SIGNATURE_ECDSA's two TPM2Bs become. */
export function ecdsaP1363(r: Buffer, s: Buffer, size = 32): Buffer {
  const fit = (b: Buffer) => {
    let i = 0;
    while (i < b.length - size && b[i] === 0) i++;
    const t = b.subarray(i);
    if (t.length > size) throw new CheckpointError(`ECDSA component longer than ${size} bytes`);
    return Buffer.concat([Buffer.alloc(size - t.length), t]);
  };
  return Buffer.concat([fit(r), fit(s)]);
}

/**
 * A checkpoint over `head`, signed through `sign`. The signature is verified with
 * `akPublicKeyPem` before the checkpoint is returned, so a misrouted signer fails here, not later
 * in a reviewer's report.
 */
export async function makeCheckpoint(
  head: ChainHead | null,
  tpmInfo: TpmClockInfo,
  sign: CheckpointSigner,
  akPublicKeyPem: string,
): Promise<Checkpoint> {
  const fields = {
    seq: head?.seq ?? 0,
    headHash: head?.hash ?? GENESIS_HASH,
    tpmClock: typeof tpmInfo.clock === 'bigint' ? tpmInfo.clock.toString(10) : String(tpmInfo.clock),
    resetCount: tpmInfo.resetCount,
    restartCount: tpmInfo.restartCount,
  };
  const message = checkpointMessage(fields);
  const digest = createHash('sha256').update(message).digest();
  const signature = await sign(digest, message);
  const cp: Checkpoint = {
    kind: 'checkpoint',
    ...fields,
    signedDigest: digest.toString('hex'),
    signature: { alg: signature.alg, value: signature.value },
    akPublicKeyPem,
  };
  const shape = checkCheckpointShape(cp as unknown as Record<string, unknown>);
  if (shape.length > 0) throw new CheckpointError(shape.join('; '));
  const check = verifyCheckpoint(cp);
  if (!check.ok) throw new CheckpointError(`the signer's result does not verify: ${check.reason}`);
  return cp;
}

/** Shape problems of a parsed checkpoint, one message per field (empty when well-formed). */
export function checkCheckpointShape(c: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const bad = (field: string, want: string) => problems.push(`${field}: must be ${want}`);
  const known = ['kind', 'seq', 'headHash', 'tpmClock', 'resetCount', 'restartCount', 'signedDigest', 'signature', 'akPublicKeyPem'];
  for (const key of Object.keys(c)) if (!known.includes(key)) problems.push(`${key}: unknown field`);
  if (c.kind !== 'checkpoint') bad('kind', "'checkpoint'");
  if (!Number.isSafeInteger(c.seq) || (c.seq as number) < 0) bad('seq', 'an integer >= 0');
  if (typeof c.headHash !== 'string' || !HEX_256.test(c.headHash)) bad('headHash', '64 lower-case hex digits');
  if (typeof c.tpmClock !== 'string' || !DECIMAL_U64.test(c.tpmClock) || BigInt(c.tpmClock) >= 2n ** 64n) {
    bad('tpmClock', 'a UINT64 as a decimal string');
  }
  if (!isU32(c.resetCount)) bad('resetCount', 'a UINT32');
  if (!isU32(c.restartCount)) bad('restartCount', 'a UINT32');
  if (typeof c.signedDigest !== 'string' || !HEX_256.test(c.signedDigest)) bad('signedDigest', '64 lower-case hex digits');
  const sig = c.signature as Record<string, unknown> | null | undefined;
  if (typeof sig !== 'object' || sig === null || (sig.alg !== 'ES256' && sig.alg !== 'RS256')) {
    bad('signature.alg', "'ES256' or 'RS256'");
  }
  if (typeof sig !== 'object' || sig === null || typeof sig.value !== 'string' || sig.value.length === 0 || !BASE64.test(sig.value)) {
    bad('signature.value', 'base64');
  }
  if (typeof c.akPublicKeyPem !== 'string' || !c.akPublicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) {
    bad('akPublicKeyPem', 'a PEM SubjectPublicKeyInfo');
  }
  return problems;
}

/** The AK public key of a PEM, or a reason it is not usable for `alg`. */
export function parseAkKey(pem: string, alg: CheckpointSigAlg): KeyObject | string {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    return `akPublicKeyPem does not parse: ${(e as Error).message}`;
  }
  if (alg === 'ES256' && !(key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1')) {
    return `ES256 needs an ECDSA P-256 key, the AK is ${describeKey(key)}`;
  }
  if (alg === 'RS256' && key.asymmetricKeyType !== 'rsa') return `RS256 needs an RSA key, the AK is ${describeKey(key)}`;
  return key;
}

/** SHA-256 of the key's DER SubjectPublicKeyInfo, hex: how keys are compared and named. */
export function akKeyFingerprint(key: KeyObject | string): string {
  const k = typeof key === 'string' ? createPublicKey(key) : key;
  return createHash('sha256').update(k.export({ type: 'spki', format: 'der' })).digest('hex');
}

/**
 * Whether the checkpoint is internally sound: well-formed, its signedDigest is the digest of its
 * fields, and its signature verifies with its own akPublicKeyPem. Whether that key is trusted and
 * whether headHash matches the log are the verifier's questions (verify.ts).
 */
export function verifyCheckpoint(cp: Checkpoint, akKey?: KeyObject): CheckpointCheck {
  const shape = checkCheckpointShape(cp as unknown as Record<string, unknown>);
  if (shape.length > 0) return { ok: false, reason: shape.join('; ') };
  const message = checkpointMessage(cp);
  const digest = createHash('sha256').update(message).digest('hex');
  if (digest !== cp.signedDigest) {
    return { ok: false, reason: `signedDigest ${cp.signedDigest} is not the digest of the checkpoint's fields (${digest})` };
  }
  const key = akKey ?? parseAkKey(cp.akPublicKeyPem, cp.signature.alg);
  if (typeof key === 'string') return { ok: false, reason: key };
  const sig = Buffer.from(cp.signature.value, 'base64');
  let good = false;
  try {
    if (cp.signature.alg === 'RS256') {
      good = verify('sha256', message, key, sig);
    } else {
      good = (sig.length === 64 && verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, sig)) ||
        (sig[0] === 0x30 && verify('sha256', message, { key, dsaEncoding: 'der' }, sig));
    }
  } catch {
    good = false;
  }
  return good ? { ok: true } : { ok: false, reason: `${cp.signature.alg} signature does not verify with the checkpoint's AK` };
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve ? `${key.asymmetricKeyType} ${curve}` : String(key.asymmetricKeyType);
}
