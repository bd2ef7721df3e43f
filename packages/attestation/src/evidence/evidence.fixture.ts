// Test and bench support: real evidence from the project's in-process TPM. A host TPM is
// started and provisioned like a manufacturer's line does it (EKs certified by an emulated
// manufacturer CA), measures a static boot into PCRs 0–7 (a CEL log kept beside), performs a
// TXT-style launch into PCRs 17–22, and quotes sha1 and sha256 PCRs 0–7 and 17–22 with an AK in
// the endorsement hierarchy — all assembled into an evidence bundle with the reviewer's trusted
// roots. The AK certificate comes, by default, from the manufacturer beside the EK certificate
// (the IAK model of provisionAttestationKey: AK → manufacturer root), or from a test attestation
// CA (AK → issuing CA → attestation root, ak-ca.fixture.ts).

import { createHash, type KeyObject } from 'node:crypto';
import {
  CelLog,
  InProcessTransport,
  ManufacturerCa,
  Tpm,
  TpmClient,
  TPM_ALG,
  TPM_RH,
  TPM_SU,
  attestationKeyTemplate,
  commands,
  launch,
  marshal,
  password,
  provisionAttestationKey,
  provisionEndorsement,
  publicKeyOfArea,
  wire,
  type CelHashAlg,
  type EVENT_TYPES,
  type TpmIdentity,
} from '@sealkeep/tpm';
import * as pkijs from 'pkijs';
import { AttestationCa } from './ak-ca.fixture.js';
import type { EvidenceBundle } from './bundle.js';
import { tpmIdentityOf } from './tcg-profile.js';

const BANKS: Array<[CelHashAlg, number]> = [
  ['sha1', TPM_ALG.SHA1],
  ['sha256', TPM_ALG.SHA256],
  ['sha384', TPM_ALG.SHA384],
];
/** The banks quoted (sha384 is extended and logged, not quoted). */
const QUOTED: Array<[CelHashAlg, number]> = [BANKS[1]!, BANKS[0]!];
export const QUOTED_PCRS = [0, 1, 2, 3, 4, 5, 6, 7, 17, 18, 19, 20, 21, 22];
export const SINIT = Buffer.from('SINIT ACM for the emulated chipset, build 42');
export const MLE = Buffer.from('sealkeep hypervisor 1.0');

type EventName = keyof typeof EVENT_TYPES;
interface BootEvent {
  pcr: number;
  type: EventName;
  data: Buffer;
  /** What was measured, when it is not the event data itself. */
  measured?: Buffer;
}

/** A firmware boot: S-CRTM version and POST code in PCR 0, configuration in 1, a boot loader in 4, separators in 0–7. */
export function staticBootEvents(): BootEvent[] {
  return [
    { pcr: 0, type: 'EV_NO_ACTION', data: Buffer.concat([Buffer.from('StartupLocality\0', 'latin1'), Buffer.of(0)]) },
    { pcr: 0, type: 'EV_S_CRTM_VERSION', data: Buffer.from('1.0\0', 'utf16le') },
    { pcr: 0, type: 'EV_POST_CODE', data: Buffer.from('POST CODE'), measured: Buffer.from('emulated firmware image') },
    { pcr: 1, type: 'EV_PLATFORM_CONFIG_FLAGS', data: Buffer.from('flags'), measured: Buffer.from('platform configuration') },
    { pcr: 4, type: 'EV_IPL', data: Buffer.from('bootloader'), measured: Buffer.from('boot loader image') },
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((pcr) => ({ pcr, type: 'EV_SEPARATOR' as const, data: Buffer.alloc(4) })),
  ];
}

export interface EvidenceFixture {
  tpm: Tpm;
  client: TpmClient;
  manufacturer: ManufacturerCa;
  /** The test attestation CA (it issued the AK certificate when akIssuer is 'attestation-ca'). */
  attestationCa: AttestationCa;
  /** The reviewer's trust, PEM: the manufacturer root, and the attestation root when it issued the AK certificate. */
  trustedRoots: string[];
  ak: { handle: number; key: KeyObject; tpm2bPublic: Buffer };
  /** The ECC EK certificate (DER) and the TPM it names. */
  ekCertificate: Buffer;
  tpmIdentity: TpmIdentity;
  /** Another AK certificate from the fixture's AK issuer (tests: expired, another key, another TPM). */
  issueAkCertificate(r?: { akPublicKey?: KeyObject; tpm?: TpmIdentity; notBefore?: Date; notAfter?: Date }): Buffer;
  staticLog: CelLog;
  drtmLog: CelLog;
  /** A fresh quote over the current PCRs with `nonce`, as a complete bundle (by default of QUOTED_PCRS in sha256 and sha1). */
  bundle(nonce: Buffer, select?: { pcrs?: number[]; banks?: CelHashAlg[] }): Promise<EvidenceBundle>;
}

export interface EvidenceFixtureOptions {
  /** The AK: ECDSA P-256 (default), RSA 2048 with RSASSA, or RSA 2048 with RSAPSS; all SHA-256. */
  akAlg?: 'eccP256' | 'rsa2048' | 'rsa2048-pss';
  /** Modules the MLE measures into PCR 19 (one EV_IPL event each); default 2. */
  modules?: number;
  /** Who certifies the AK: the manufacturer (default, the IAK model) or the test attestation CA. */
  akIssuer?: 'manufacturer' | 'attestation-ca';
}

export async function evidenceFixture(opts: EvidenceFixtureOptions = {}): Promise<EvidenceFixture> {
  const tpm = new Tpm();
  const transport = new InProcessTransport(tpm, 0);
  const client = new TpmClient(transport);
  const pw = { auth: [password()] };
  await client.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
  const manufacturer = await ManufacturerCa.create();
  const ekCertificate = (await provisionEndorsement(client, manufacturer)).eccP256.certificate.der;

  const staticLog = new CelLog();
  for (const e of staticBootEvents()) {
    const digests = BANKS.map(([name, alg]) => [name, alg, createHash(name).update(e.measured ?? e.data).digest()] as const);
    if (e.type !== 'EV_NO_ACTION') {
      await client.call(commands.PCR_Extend, { pcrHandle: e.pcr }, { digests: digests.map(([, hashAlg, digest]) => ({ hashAlg, digest })) }, pw);
    }
    staticLog.appendEvent(e.pcr, e.type, e.data, e.type === 'EV_NO_ACTION' ? BANKS.map(([n]) => [n, Buffer.alloc(createHash(n).digest().length)]) : digests.map(([n, , d]) => [n, d]));
  }
  const modules = Array.from({ length: opts.modules ?? 2 }, (_, i) => ({ name: `module-${i}`, data: Buffer.from(`module ${i} image`) }));
  const launched = await launch(transport, { sinit: SINIT, mle: MLE, modules, policy: 'any' });
  if (!launched.ok) throw new Error(`the launch was refused: ${launched.reason}`);

  const base = attestationKeyTemplate(opts.akAlg === 'eccP256' || opts.akAlg === undefined ? 'eccP256' : 'rsa2048');
  const pss = { scheme: TPM_ALG.RSAPSS, details: { hashAlg: TPM_ALG.SHA256 } };
  const akTemplate = opts.akAlg === 'rsa2048-pss' ? ({ ...base, parameters: { ...(base.parameters as object), scheme: pss } } as wire.TPMT_PUBLIC) : base;
  const created = await client.call(
    commands.CreatePrimary,
    { primaryHandle: TPM_RH.ENDORSEMENT },
    { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: akTemplate, outsideInfo: Buffer.alloc(0), creationPCR: [] },
    pw,
  );
  const akKey = publicKeyOfArea(created.outPublic);
  const tpm2bPublic = marshal(wire.TPM2B_PUBLIC, created.outPublic);
  const attestationCa = AttestationCa.create();
  const id = tpmIdentityOf(pkijs.Certificate.fromBER(ekCertificate))!;
  const tpmIdentity: TpmIdentity = { manufacturer: id.manufacturer!, model: id.model!, version: id.version! };
  const byManufacturer = (opts.akIssuer ?? 'manufacturer') === 'manufacturer';
  const issueAkCertificate: EvidenceFixture['issueAkCertificate'] = (r = {}) => {
    const request = { akPublicKey: r.akPublicKey ?? akKey, tpm: r.tpm ?? tpmIdentity, ...(r.notBefore && { notBefore: r.notBefore }), ...(r.notAfter && { notAfter: r.notAfter }) };
    return byManufacturer ? manufacturer.issueAkCertificate({ ...request, ekCertificate }).der : attestationCa.issueAkCertificate({ ...request, subject: 'host-07' }).der;
  };
  // The IAK path as the platform provisions it (the same ECC AK, certified into NV), else issued here.
  const akCertificate =
    byManufacturer && (opts.akAlg ?? 'eccP256') === 'eccP256' ? (await provisionAttestationKey(client, manufacturer)).certificate.der : issueAkCertificate();
  const akChain = byManufacturer ? [] : [attestationCa.issuing.der.toString('base64')];

  const readPcrs = async (alg: number, indices: number[]): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (let i = 0; i < indices.length; i += 8) {
      const chunk = indices.slice(i, i + 8);
      const r = await client.call(commands.PCR_Read, {}, { pcrSelectionIn: [wire.pcrSelection(alg, chunk)] });
      chunk.forEach((pcr, j) => (out[String(pcr)] = r.pcrValues[j]!.toString('hex')));
    }
    return out;
  };

  const bundle = async (nonce: Buffer, select: { pcrs?: number[]; banks?: CelHashAlg[] } = {}): Promise<EvidenceBundle> => {
    const indices = select.pcrs ?? QUOTED_PCRS;
    const banks = QUOTED.filter(([name]) => !select.banks || select.banks.includes(name));
    const q = await client.call(
      commands.Quote,
      { signHandle: created.objectHandle },
      { qualifyingData: nonce, inScheme: { scheme: TPM_ALG.NULL, details: null }, PCRselect: banks.map(([, alg]) => wire.pcrSelection(alg, indices)) },
      pw,
    );
    const pcrs: EvidenceBundle['pcrs'] = {};
    for (const [name, alg] of banks) pcrs[name] = await readPcrs(alg, indices);
    return {
      format: 'sealkeep-evidence',
      version: 1,
      subject: { kind: 'host', id: 'host-07' },
      createdAt: new Date().toISOString(),
      quote: { attest: q.quoted.toString('base64'), signature: marshal(wire.TPMT_SIGNATURE.plus, q.signature).toString('base64') },
      pcrs,
      eventLogs: { static: staticLog.toJSON(), drtm: launched.log.toJSON() },
      ak: { public: tpm2bPublic.toString('base64'), parent: 'endorsement', certificate: akCertificate.toString('base64'), chain: akChain },
      ek: { certificate: ekCertificate.toString('base64') },
      serviceMeasurements: { codeDigest: createHash('sha256').update(MLE).digest('hex') },
    };
  };

  return {
    tpm,
    client,
    manufacturer,
    attestationCa,
    trustedRoots: byManufacturer ? [manufacturer.toPem()] : [manufacturer.toPem(), attestationCa.root.pem],
    ak: { handle: created.objectHandle, key: akKey, tpm2bPublic },
    ekCertificate,
    tpmIdentity,
    issueAkCertificate,
    staticLog,
    drtmLog: launched.log,
    bundle,
  };
}
