// Endorsement provisioning, as a TPM manufacturer's line does it: create the TCG default EKs
// (RSA 2048, template L-1; ECC NIST P-256, template L-2) from the endorsement seed inside the
// TPM, have the manufacturer CA certify their public keys, and store the certificates (DER) in
// the TCG PC Client NV indices, defined by the platform like a real TPM's:
// ppwrite|writedefine|ppread|ownerread|authread|no_da, plus written|platformcreate = 0x62072001.
// Everything goes through TPM commands, so the indices' Names are the TPM's own.

import type { KeyObject } from 'node:crypto';
import { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { endorsementKeyTemplate } from '../client/templates.js';
import { InProcessTransport } from '../client/transport.js';
import { Tpm } from '../engine/tpm.js';
import { TPM_ALG, TPM_RH, TPM_PT, TPMA_NV } from '../wire/constants.js';
import { MAX_NV_BUFFER_SIZE } from '../wire/limits.js';
import { TPM_CAP, type TPMT_PUBLIC } from '../wire/types/index.js';
import { rsaPublicKeyObject } from '../crypto/rsa-keygen.js';
import { eccPublicKeyObject } from '../crypto/ecc.js';
import { GetCapability } from '../commands/capability/index.js';
import { CreatePrimary } from '../commands/hierarchy/index.js';
import { FlushContext } from '../commands/context/index.js';
import { NV_DefineSpace, NV_Read, NV_ReadPublic, NV_UndefineSpace, NV_Write } from '../commands/nv/index.js';
import { attestationKeyTemplate } from '../client/templates.js';
import type { IssuedCertificate, ManufacturerCa } from './manufacturer-ca.js';
import { tcgId, type TpmIdentity, type TpmSpecification } from './ek-certificate.js';

/** The EK Credential Profile's low-range NV indices for the default EKs' certificates. */
export const EK_CERT_INDEX = { rsa2048: 0x01c00002, eccP256: 0x01c0000a } as const;
export type EkAlgorithm = keyof typeof EK_CERT_INDEX;

/**
 * Where the manufacturer stores the attestation key's certificate (ak-certificate.ts): Sealkeep's
 * choice, in the TPM manufacturer's range beside the EK certificates, with the same attributes.
 */
export const AK_CERT_INDEX = 0x01c00100;

/** The attributes a platform gives an EK certificate index at definition (WRITTEN comes with the write). */
export const EK_CERT_NV_ATTRIBUTES =
  (TPMA_NV.PPWRITE | TPMA_NV.WRITEDEFINE | TPMA_NV.PPREAD | TPMA_NV.OWNERREAD | TPMA_NV.AUTHREAD | TPMA_NV.NO_DA | TPMA_NV.PLATFORMCREATE) >>> 0;

export interface EndorsementOptions {
  /** The platform hierarchy's authValue (empty after every TPM Reset unless the platform set one). */
  platformAuth?: Buffer;
  /** The endorsement hierarchy's authValue. */
  endorsementAuth?: Buffer;
}

export interface ProvisionedEk {
  nvIndex: number;
  /** The EK's public key as the TPM created it. */
  publicKey: KeyObject;
  certificate: IssuedCertificate;
}

export type ProvisionedEndorsement = Record<EkAlgorithm, ProvisionedEk>;

/** The TPM's identity and specification, as GetCapability(TPM_PROPERTIES) reports them. */
export interface TpmDescription {
  tpm: TpmIdentity;
  specification: TpmSpecification;
  /** TPM_PT_NV_BUFFER_MAX: the largest NV_Write. */
  nvBufferMax: number;
}

/** Four characters packed in a UINT32 (vendor strings, family indicator), trailing NULs dropped. */
const chars = (v: number) => Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]).toString('latin1').replace(/\0+$/, '');

export async function describeTpm(client: TpmClient): Promise<TpmDescription> {
  const { capabilityData } = await client.call(GetCapability, {}, { capability: TPM_CAP.TPM_PROPERTIES, property: TPM_PT.FAMILY_INDICATOR, propertyCount: 64 });
  const props = new Map((capabilityData.data as Array<{ property: number; value: number }>).map((p) => [p.property, p.value]));
  const prop = (pt: number) => {
    const v = props.get(pt);
    if (v === undefined) throw new Error(`the TPM did not report property 0x${pt.toString(16)}`);
    return v;
  };
  const vendor = [TPM_PT.VENDOR_STRING_1, TPM_PT.VENDOR_STRING_2, TPM_PT.VENDOR_STRING_3, TPM_PT.VENDOR_STRING_4];
  return {
    tpm: {
      manufacturer: tcgId(prop(TPM_PT.MANUFACTURER)),
      model: vendor.map((pt) => chars(prop(pt))).join(''),
      version: tcgId(prop(TPM_PT.FIRMWARE_VERSION_1)),
    },
    specification: { family: chars(prop(TPM_PT.FAMILY_INDICATOR)), level: prop(TPM_PT.LEVEL), revision: prop(TPM_PT.REVISION) },
    nvBufferMax: props.get(TPM_PT.NV_BUFFER_MAX) ?? MAX_NV_BUFFER_SIZE,
  };
}

/** A node public key for the TPMT_PUBLIC of an RSA or ECC key. */
export function publicKeyOfArea(pub: TPMT_PUBLIC): KeyObject {
  const params = pub.parameters as { exponent?: number; curveID?: number };
  if (pub.type === TPM_ALG.RSA) return rsaPublicKeyObject(pub.unique as Buffer, params.exponent ?? 0);
  if (pub.type === TPM_ALG.ECC) return eccPublicKeyObject(params.curveID!, pub.unique as { x: Buffer; y: Buffer });
  throw new TypeError('an EK is an RSA or an ECC key');
}

/** CreatePrimary under TPM_RH_ENDORSEMENT with the TCG default template; the EK is flushed again. */
export async function createEndorsementKey(client: TpmClient, alg: EkAlgorithm, endorsementAuth: Buffer = Buffer.alloc(0)): Promise<KeyObject> {
  const ek = await client.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.ENDORSEMENT },
    {
      inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) },
      inPublic: endorsementKeyTemplate(alg),
      outsideInfo: Buffer.alloc(0),
      creationPCR: [],
    },
    { auth: [password(endorsementAuth)] },
  );
  await client.call(FlushContext, {}, { flushHandle: ek.objectHandle });
  return publicKeyOfArea(ek.outPublic);
}

/** Whether an NV index is defined (GetCapability(TPM_CAP_HANDLES) from that handle). */
async function nvIndexDefined(client: TpmClient, nvIndex: number): Promise<boolean> {
  const { capabilityData } = await client.call(GetCapability, {}, { capability: TPM_CAP.HANDLES, property: nvIndex, propertyCount: 1 });
  return (capabilityData.data as number[])[0] === nvIndex;
}

/**
 * Define `nvIndex` as a platform-created EK certificate index holding exactly `der` and write it
 * in chunks of at most `chunk` bytes. An index already there is undefined first (the platform
 * may delete what it created).
 */
export async function storeEkCertificate(client: TpmClient, nvIndex: number, der: Buffer, opts: { platformAuth?: Buffer; chunk?: number } = {}): Promise<void> {
  const auth = { auth: [password(opts.platformAuth ?? Buffer.alloc(0))] };
  if (await nvIndexDefined(client, nvIndex)) {
    await client.call(NV_UndefineSpace, { authHandle: TPM_RH.PLATFORM, nvIndex }, {}, auth);
  }
  const publicInfo = { nvIndex, nameAlg: TPM_ALG.SHA256, attributes: EK_CERT_NV_ATTRIBUTES, authPolicy: Buffer.alloc(0), dataSize: der.length };
  await client.call(NV_DefineSpace, { authHandle: TPM_RH.PLATFORM }, { auth: Buffer.alloc(0), publicInfo }, auth);
  const chunk = Math.min(opts.chunk ?? MAX_NV_BUFFER_SIZE, MAX_NV_BUFFER_SIZE);
  for (let offset = 0; offset < der.length; offset += chunk) {
    await client.call(NV_Write, { authHandle: TPM_RH.PLATFORM, nvIndex }, { data: der.subarray(offset, offset + chunk), offset }, auth);
  }
}

/**
 * Provision the TPM's endorsement: both default EKs certified by `ca`, their certificates in NV
 * at 0x01C00002 (RSA) and 0x01C0000A (ECC). The TPM must be started. Running it again replaces
 * the certificates (the EKs themselves are the same: they derive from the endorsement seed).
 */
export async function provisionEndorsement(target: Tpm | TpmClient, ca: ManufacturerCa, opts: EndorsementOptions = {}): Promise<ProvisionedEndorsement> {
  const client = target instanceof Tpm ? new TpmClient(new InProcessTransport(target)) : target;
  const { tpm, specification, nvBufferMax } = await describeTpm(client);
  const provision = async (alg: EkAlgorithm): Promise<ProvisionedEk> => {
    const publicKey = await createEndorsementKey(client, alg, opts.endorsementAuth);
    const certificate = ca.issueEkCertificate({ ekPublicKey: publicKey, tpm, specification });
    await storeEkCertificate(client, EK_CERT_INDEX[alg], certificate.der, { platformAuth: opts.platformAuth, chunk: nvBufferMax });
    return { nvIndex: EK_CERT_INDEX[alg], publicKey, certificate };
  };
  return { rsa2048: await provision('rsa2048'), eccP256: await provision('eccP256') };
}

export interface ProvisionedAk {
  nvIndex: number;
  /** The AK's public key: the restricted ECDSA P-256 primary of attestationKeyTemplate('eccP256'). */
  publicKey: KeyObject;
  certificate: IssuedCertificate;
}

/**
 * Certify the TPM's attestation key beside its ECC EK certificate (the IAK model): the AK is the
 * endorsement hierarchy's primary of attestationKeyTemplate('eccP256'), the same key every time
 * it is created; its certificate goes to NV at AK_CERT_INDEX. Run after provisionEndorsement.
 */
export async function provisionAttestationKey(target: Tpm | TpmClient, ca: ManufacturerCa, opts: EndorsementOptions = {}): Promise<ProvisionedAk> {
  const client = target instanceof Tpm ? new TpmClient(new InProcessTransport(target)) : target;
  const { tpm, nvBufferMax } = await describeTpm(client);
  const ekCertificate = await readNvCertificate(client, EK_CERT_INDEX.eccP256);
  if (!ekCertificate) throw new Error('the TPM has no ECC EK certificate to bind its AK certificate to; provision the endorsement first');
  const ak = await client.call(
    CreatePrimary,
    { primaryHandle: TPM_RH.ENDORSEMENT },
    { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: attestationKeyTemplate('eccP256'), outsideInfo: Buffer.alloc(0), creationPCR: [] },
    { auth: [password(opts.endorsementAuth ?? Buffer.alloc(0))] },
  );
  await client.call(FlushContext, {}, { flushHandle: ak.objectHandle });
  const publicKey = publicKeyOfArea(ak.outPublic);
  const certificate = ca.issueAkCertificate({ akPublicKey: publicKey, ekCertificate, tpm });
  await storeEkCertificate(client, AK_CERT_INDEX, certificate.der, { ...(opts.platformAuth ? { platformAuth: opts.platformAuth } : {}), chunk: nvBufferMax });
  return { nvIndex: AK_CERT_INDEX, publicKey, certificate };
}

/** A certificate the manufacturer stored in NV (owner-readable), or null when the index is not defined. */
export async function readNvCertificate(client: TpmClient, nvIndex: number, ownerAuth: Buffer = Buffer.alloc(0)): Promise<Buffer | null> {
  if (!(await nvIndexDefined(client, nvIndex))) return null;
  const { nvPublic } = await client.call(NV_ReadPublic, { nvIndex }, {});
  const { nvBufferMax } = await describeTpm(client);
  const parts: Buffer[] = [];
  for (let offset = 0; offset < nvPublic.dataSize; offset += nvBufferMax) {
    const size = Math.min(nvBufferMax, nvPublic.dataSize - offset);
    const { data } = await client.call(NV_Read, { authHandle: TPM_RH.OWNER, nvIndex }, { size, offset }, { auth: [password(ownerAuth)] });
    parts.push(data);
  }
  return Buffer.concat(parts);
}
