// A host as its hypervisor adapter sees it: the host's TPM (an external one over mssim, or the
// project's emulated TPM inside the adapter's process with its state in a directory), a TXT-style
// measured launch of the hypervisor (SINIT into PCR 17, the MLE into PCR 18, modules into 19),
// the attestation key (the TPM's endorsement-hierarchy ECC AK, certified by the manufacturer into
// NV), and evidence bundles (packages/attestation/src/evidence/README.md) quoting PCRs 17–19 with
// a nonce. attestHost() runs attestToService (attest.ts) with them.
//
// An emulated TPM is "manufactured" once, as a TPM vendor's line would do it (manufactureHostTpm):
// a manufacturer CA of its own (state in manufacturer-ca.json, root in manufacturer-root.pem,
// beside the TPM's state) certifies its EKs and AK into NV. The provider trusts that root
// (SEALKEEP_MANUFACTURER_ROOTS) and registers the host by its EK certificate. An emulated TPM's
// directory is one process's at a time (tpm.lock): a second one is refused with a clear message.

import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  AK_CERT_INDEX,
  EK_CERT_INDEX,
  InProcessTransport,
  ManufacturerCa,
  MssimTransport,
  TPM_RC,
  TPM_RH,
  TPM_SU,
  TpmClient,
  TpmError,
  attestationKeyTemplate,
  commands,
  launch,
  marshal,
  openPersistentTpm,
  password,
  provisionAttestationKey,
  provisionEndorsement,
  readNvCertificate,
  wire,
  type CelLog,
  type LaunchTarget,
} from '@sealkeep/tpm';
import { quoteBundle, type EvidenceBundle } from '@sealkeep/attestation';
import { takeProcessLock } from '@sealkeep/store';
import { activateCredential, attestToService, type HostAttestation } from './attest.js';

/** The SINIT ACM of the emulated chipset: what a TXT launch measures into PCR 17. */
export const EMULATED_SINIT = Buffer.from('Sealkeep emulated SINIT ACM for the sealkeep-tpm chipset, version 1');
/** PCRs an adapter's evidence quotes (sha256): the launch (17 SINIT, 18 MLE, 19 modules). */
export const HOST_QUOTED_PCRS = [17, 18, 19];

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The launch digests a cloud-admin approves for a host (PUT /v1/hosts/{id}/launch-policy). */
export function launchDigests(mle: Buffer, sinit: Buffer = EMULATED_SINIT): { sinitDigest: string; mleDigest: string } {
  return { sinitDigest: sha256(sinit), mleDigest: sha256(mle) };
}

export interface HostTpmConnection {
  client: TpmClient;
  target: LaunchTarget;
  /** `mssim://…` or `in-process:DIR`. */
  description: string;
  /** Where an emulated TPM keeps its state and manufacturer (null for an external TPM). */
  dir: string | null;
  close(): Promise<void>;
}

async function startup(client: TpmClient): Promise<void> {
  try {
    await client.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
  } catch (e) {
    if (!(e instanceof TpmError && e.rc === TPM_RC.INITIALIZE)) throw e;
  }
}

/**
 * Opens the host TPM: `mssim://host:port` (sealkeep-tpm, swtpm: powered on through the platform
 * port), or a directory for the emulated TPM in this process (`in-process:DIR` or just DIR),
 * whose state file is encrypted with a platform key kept beside it. Started (TPM2_Startup).
 */
export async function openHostTpm(spec: string): Promise<HostTpmConnection> {
  if (spec.startsWith('mssim://')) {
    const transport = await MssimTransport.connect(spec, { platform: true });
    const client = new TpmClient(transport);
    await startup(client);
    return { client, target: transport, description: spec, dir: null, close: () => transport.close() };
  }
  const dir = path.resolve(spec.replace(/^in-process:/, ''));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // One process at a time: a second writer of the state would be refused by its rollback counter, and its TPM fail.
  const release = takeProcessLock(path.join(dir, 'tpm.lock'), (who) => new Error(`the host TPM in ${dir} is in use by ${who}: one process at a time (a serving adapter's control socket lists its label: vm list)`));
  try {
    const keyFile = path.join(dir, 'platform.key');
    if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    const persistent = await openPersistentTpm({
      path: path.join(dir, 'tpm.state'),
      counterPath: path.join(dir, 'tpm.counter'),
      platformKey: Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'hex'),
    });
    const transport = new InProcessTransport(persistent.tpm);
    const client = new TpmClient(transport);
    await startup(client).catch(async (error: unknown) => {
      await persistent.close();
      throw error;
    });
    return {
      client,
      target: transport,
      description: `in-process:${dir}`,
      dir,
      async close() {
        try {
          await client.call(commands.Shutdown, {}, { shutdownType: TPM_SU.CLEAR }).catch(() => {});
          await persistent.close();
        } finally {
          release();
        }
      },
    };
  } catch (error) {
    release();
    throw error;
  }
}

export interface Manufactured {
  ekCertificate: Buffer;
  akCertificate: Buffer;
  /** PEM of the manufacturer root that certified them (null when the TPM came certified). */
  manufacturerRootPem: string | null;
}

/**
 * The TPM's EK and AK certificates; a TPM without them is certified first by the manufacturer CA
 * kept in `caDir` (made there on first use: manufacturer-ca.json, secret; manufacturer-root.pem).
 */
export async function manufactureHostTpm(client: TpmClient, caDir: string | null): Promise<Manufactured> {
  const rootFile = caDir && path.join(caDir, 'manufacturer-root.pem');
  const rootPem = () => (rootFile && existsSync(rootFile) ? readFileSync(rootFile, 'utf8') : null);
  let ekCertificate = await readNvCertificate(client, EK_CERT_INDEX.eccP256);
  let akCertificate = await readNvCertificate(client, AK_CERT_INDEX);
  if (ekCertificate && akCertificate) return { ekCertificate, akCertificate, manufacturerRootPem: rootPem() };
  if (!caDir) throw new Error('the host TPM holds no EK and AK certificates, and no manufacturer CA was given to certify them');
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  const caFile = path.join(caDir, 'manufacturer-ca.json');
  let ca: ManufacturerCa;
  if (existsSync(caFile)) ca = ManufacturerCa.fromState(JSON.parse(readFileSync(caFile, 'utf8')));
  else {
    ca = await ManufacturerCa.create();
    writeFileSync(caFile, JSON.stringify(ca.exportState()) + '\n', { mode: 0o600, flag: 'wx' });
  }
  writeFileSync(rootFile!, ca.toPem(), { mode: 0o644 });
  ekCertificate = (await provisionEndorsement(client, ca)).eccP256.certificate.der;
  akCertificate = (await provisionAttestationKey(client, ca)).certificate.der;
  return { ekCertificate, akCertificate, manufacturerRootPem: rootPem() };
}

export interface HostPlatformOptions {
  /** The host TPM: `mssim://host:port`, or a directory for the in-process emulated TPM. */
  tpm: string;
  /** The host's name in evidence bundles (subject.id). */
  hostName: string;
  /** The hypervisor image the launch measures into PCR 18. */
  mle: Buffer;
  sinit?: Buffer;
  /** Modules the MLE measures into PCR 19 (name and content). */
  modules?: Array<{ name: string; data: Buffer }>;
  /** Where the manufacturer CA lives when the TPM must be certified (default: the emulated TPM's directory). */
  manufacturerDir?: string;
}

export interface HostPlatform {
  client: TpmClient;
  description: string;
  ekCertificate: Buffer;
  akCertificate: Buffer;
  ak: { handle: number; tpm2bPublic: Buffer };
  launchLog: CelLog;
  /** A fresh quote of PCRs 17–19 carrying `nonce`, as an evidence bundle. */
  evidence(nonce: Buffer): Promise<EvidenceBundle>;
  close(): Promise<void>;
}

/** Opens and, if needed, certifies the host TPM, launches the hypervisor measured, and loads the AK. */
export async function openHostPlatform(o: HostPlatformOptions): Promise<HostPlatform> {
  const tpm = await openHostTpm(o.tpm);
  try {
    const { client } = tpm;
    const made = await manufactureHostTpm(client, o.manufacturerDir ?? tpm.dir);
    const launched = await launch(tpm.target, { sinit: o.sinit ?? EMULATED_SINIT, mle: o.mle, modules: o.modules ?? [], policy: 'any' });
    if (!launched.ok) throw new Error(`the measured launch was refused: ${launched.reason}`);
    const created = await client.call(
      commands.CreatePrimary,
      { primaryHandle: TPM_RH.ENDORSEMENT },
      { inSensitive: { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) }, inPublic: attestationKeyTemplate('eccP256'), outsideInfo: Buffer.alloc(0), creationPCR: [] },
      { auth: [password()] },
    );
    const tpm2bPublic = marshal(wire.TPM2B_PUBLIC, created.outPublic);
    return {
      client,
      description: tpm.description,
      ekCertificate: made.ekCertificate,
      akCertificate: made.akCertificate,
      ak: { handle: created.objectHandle, tpm2bPublic },
      launchLog: launched.log,
      evidence: (nonce) =>
        quoteBundle({
          client,
          akHandle: created.objectHandle,
          akPublic: tpm2bPublic,
          pcrs: HOST_QUOTED_PCRS,
          nonce,
          subject: { kind: 'host', id: o.hostName },
          eventLogs: { drtm: launched.log.toJSON() },
          akCertificate: made.akCertificate.toString('base64'),
          ekCertificate: made.ekCertificate.toString('base64'),
        }),
      async close() {
        await client.call(commands.FlushContext, {}, { flushHandle: created.objectHandle }).catch(() => {});
        await tpm.close();
      },
    };
  } catch (e) {
    await tpm.close().catch(() => {});
    throw e;
  }
}

/** Attest the host to the service: the adapter key becomes (or stays) the host's hypervisor principal. */
export function attestHost(platform: HostPlatform, o: { dataUrl: string; hostId: string; adapterKey: KeyObject }): Promise<HostAttestation> {
  return attestToService({
    dataUrl: o.dataUrl,
    hostId: o.hostId,
    adapterKey: o.adapterKey,
    akPublic: platform.ak.tpm2bPublic,
    activate: (challenge) => activateCredential(platform.client, platform.ak.handle, challenge),
    evidence: (nonce) => platform.evidence(nonce),
  });
}
