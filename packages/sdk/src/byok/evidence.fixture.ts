// Test support: import evidence produced for real by an in-process TPM, as the service's import
// job produces it (docs/byok.md): a manufacturer CA provisions the TPM's EK and AK certificates;
// a decrypt-only RSA wrapping key is created under an SRK with TPM2_Create and certified with
// TPM2_Certify by the AK (the endorsement primary of attestationKeyTemplate('eccP256')), the
// qualifying data bound to the job and the officer's nonce. Used by the SDK's and the service's
// tests; variants come from the options (wrapping key attributes and size) or issueAkCertificate.

import { createDecipheriv, X509Certificate } from 'node:crypto';
import {
  AK_CERT_INDEX,
  EK_CERT_INDEX,
  InProcessTransport,
  ManufacturerCa,
  TPM_ALG,
  TPM_PT,
  TPM_RH,
  TPMA_OBJECT as A,
  Tpm,
  TpmClient,
  attestationKeyTemplate,
  commands,
  marshal,
  password,
  provisionAttestationKey,
  provisionEndorsement,
  readNvCertificate,
  storageKeyTemplate,
  tcgId,
  wire,
  type TpmIdentity,
} from '@sealkeep/tpm';
import { importJobQualifyingData, IMPORT_EVIDENCE_FORMAT, type ImportEvidence } from './evidence.js';

/** The wrapping key's attributes docs/byok.md asks for: decrypt-only, TPM-bound, TPM-generated. */
export const WRAPPING_KEY_ATTRIBUTES = (A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.decrypt) >>> 0;

const EMPTY = Buffer.alloc(0);
const NULL_SCHEME = { scheme: TPM_ALG.NULL, details: null };
const OAEP_SHA256 = { scheme: TPM_ALG.OAEP, details: { hashAlg: TPM_ALG.SHA256 } };

/** An RSA decryption key template; OAEP-SHA-256 unless it may also sign (then the scheme is NULL). */
export function wrappingKeyTemplate(opts: { attributes?: number; keyBits?: number } = {}): wire.TPMT_PUBLIC {
  const attributes = (opts.attributes ?? WRAPPING_KEY_ATTRIBUTES) >>> 0;
  const scheme = attributes & A.sign ? NULL_SCHEME : OAEP_SHA256;
  return {
    type: TPM_ALG.RSA,
    nameAlg: TPM_ALG.SHA256,
    objectAttributes: attributes,
    authPolicy: EMPTY,
    parameters: { symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null }, scheme, keyBits: opts.keyBits ?? 3072, exponent: 0 },
    unique: EMPTY,
  } as wire.TPMT_PUBLIC;
}

const createParams = (inPublic: wire.TPMT_PUBLIC) => ({ inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic, outsideInfo: EMPTY, creationPCR: [] });
const auth = (n: number) => ({ auth: Array.from({ length: n }, () => password()) });

/** The manufacturer, model and firmware version the TPM reports (what its certificates name). */
async function identityOf(client: TpmClient): Promise<TpmIdentity> {
  const { capabilityData } = await client.call(commands.GetCapability, {}, { capability: wire.TPM_CAP.TPM_PROPERTIES, property: TPM_PT.MANUFACTURER, propertyCount: 64 });
  const props = new Map((capabilityData.data as Array<{ property: number; value: number }>).map((p) => [p.property, p.value]));
  const chars = (v = 0) => Buffer.from([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]).toString('latin1').replace(/\0+$/, '');
  const vendor = [TPM_PT.VENDOR_STRING_1, TPM_PT.VENDOR_STRING_2, TPM_PT.VENDOR_STRING_3, TPM_PT.VENDOR_STRING_4];
  return { manufacturer: tcgId(props.get(TPM_PT.MANUFACTURER) ?? 0), model: vendor.map((pt) => chars(props.get(pt))).join(''), version: tcgId(props.get(TPM_PT.FIRMWARE_VERSION_1) ?? 0) };
}

export interface ImportEvidenceRequest {
  importJobId: string;
  /** The officer's nonce, base64url (or empty). */
  nonce: string;
  /** The wrapping key's TPMA_OBJECT (default WRAPPING_KEY_ATTRIBUTES). */
  attributes?: number;
  keyBits?: number;
}

/** A started TPM with its endorsement and AK certified by `ca`, an SRK and the AK loaded. */
export class EvidenceHost {
  private constructor(
    readonly tpm: Tpm,
    readonly client: TpmClient,
    readonly ca: ManufacturerCa,
    /** The ECC EK certificate, DER: what the AK certificate is bound to. */
    readonly ekCertificate: Buffer,
    readonly akCertificatePem: string,
    private readonly identity: TpmIdentity,
    private readonly ak: { handle: number; publicArea: wire.TPMT_PUBLIC },
    private readonly srkHandle: number,
  ) {}

  static async start(ca?: ManufacturerCa): Promise<EvidenceHost> {
    const manufacturer = ca ?? (await ManufacturerCa.create());
    const tpm = new Tpm();
    const client = new TpmClient(new InProcessTransport(tpm));
    await client.call(commands.Startup, {}, { startupType: 0 });
    await provisionEndorsement(client, manufacturer);
    await provisionAttestationKey(client, manufacturer);
    const ekCertificate = (await readNvCertificate(client, EK_CERT_INDEX.eccP256))!;
    const akCertificatePem = new X509Certificate((await readNvCertificate(client, AK_CERT_INDEX))!).toString();
    const ak = await client.call(commands.CreatePrimary, { primaryHandle: TPM_RH.ENDORSEMENT }, createParams(attestationKeyTemplate('eccP256')), auth(1));
    const srk = await client.call(commands.CreatePrimary, { primaryHandle: TPM_RH.OWNER }, createParams(storageKeyTemplate('eccP256')), auth(1));
    const akKey = { handle: ak.objectHandle, publicArea: ak.outPublic };
    return new EvidenceHost(tpm, client, manufacturer, ekCertificate, akCertificatePem, await identityOf(client), akKey, srk.objectHandle);
  }

  /** The AK's certificate issued anew by this host's CA, e.g. expired or bound to another EK. */
  issueAkCertificate(opts: { ekCertificate?: Buffer; notBefore?: Date; notAfter?: Date } = {}): string {
    const akPublicKey = new X509Certificate(this.akCertificatePem).publicKey;
    const { ekCertificate = this.ekCertificate, ...validity } = opts;
    return this.ca.issueAkCertificate({ akPublicKey, ekCertificate, tpm: this.identity, ...validity }).pem;
  }

  /**
   * A new wrapping key (TPM2_Create under the SRK, loaded) and the evidence for it. The handle
   * lets a test have the TPM decrypt what was wrapped to it (TPM2_RSA_Decrypt).
   */
  async importEvidence(request: ImportEvidenceRequest): Promise<{ evidence: ImportEvidence; wrappingKeyHandle: number }> {
    const created = await this.client.call(commands.Create, { parentHandle: this.srkHandle }, createParams(wrappingKeyTemplate(request)), auth(1));
    const loaded = await this.client.call(commands.Load, { parentHandle: this.srkHandle }, { inPrivate: created.outPrivate, inPublic: created.outPublic }, auth(1));
    const certified = await this.client.call(
      commands.Certify,
      { objectHandle: loaded.objectHandle, signHandle: this.ak.handle },
      { qualifyingData: importJobQualifyingData(request.importJobId, request.nonce), inScheme: NULL_SCHEME },
      auth(2),
    );
    const evidence: ImportEvidence = {
      format: IMPORT_EVIDENCE_FORMAT,
      importJobId: request.importJobId,
      nonce: request.nonce,
      certify: { attest: certified.certifyInfo.toString('base64'), signature: marshal(wire.TPMT_SIGNATURE, certified.signature).toString('base64') },
      wrappingKey: { tpmPublic: marshal(wire.TPMT_PUBLIC, created.outPublic).toString('base64'), name: loaded.name.toString('hex') },
      attestationKey: { tpmPublic: marshal(wire.TPMT_PUBLIC, this.ak.publicArea).toString('base64'), certificatePem: this.akCertificatePem },
      ekCertificatePem: new X509Certificate(this.ekCertificate).toString(),
      manufacturerRootPem: this.ca.toPem(),
    };
    return { evidence, wrappingKeyHandle: loaded.objectHandle };
  }

  /**
   * What the service does with an upload: the RSA-OAEP layer opened by the TPM (TPM2_RSA_Decrypt,
   * OAEP SHA-256, empty label), the RFC 5649 layer with node. Returns the material.
   */
  async unwrap(wrappingKeyHandle: number, wrappedKey: Buffer): Promise<Buffer> {
    const { outPublic } = await this.client.call(commands.ReadPublic, { objectHandle: wrappingKeyHandle }, {});
    const rsaBytes = (outPublic.unique as Buffer).length;
    const decrypt = (cipherText: Buffer) =>
      this.client.call(commands.RSA_Decrypt, { keyHandle: wrappingKeyHandle }, { cipherText, inScheme: OAEP_SHA256, label: EMPTY }, auth(1)).then((r) => r.message);
    if (wrappedKey.length === rsaBytes) return decrypt(wrappedKey);
    const aesKey = await decrypt(wrappedKey.subarray(0, rsaBytes));
    const decipher = createDecipheriv('id-aes256-wrap-pad', aesKey, Buffer.from('a65959a6', 'hex')); // RFC 5649 AIV
    return Buffer.concat([decipher.update(wrappedKey.subarray(rsaBytes)), decipher.final()]);
  }
}
