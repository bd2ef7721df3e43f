// The service's host TPM: the emulated TPM in this process, its NV kept in the data directory
// (the default), or an external TPM over the mssim protocol (SEALKEEP_TPM=mssim://host:port —
// sealkeep-tpm or swtpm). Opening it powers it on and starts it; the service then owns two keys
// derived from the TPM's seeds, so nothing about them needs storing:
//   SRK — the storage primary (ECC P-256) in the owner hierarchy; parent of the service root
//   AK  — a restricted ECDSA P-256 signing primary in the endorsement hierarchy; signs audit
//         checkpoints (and, later, quotes and certifications)
//
// The in-process TPM's platform key (it encrypts the TPM state file) is created beside the data
// on first start. That protects nothing against whoever reads the data directory; production
// runs an external TPM whose platform key lives elsewhere.
//
// The in-process TPM is also *manufactured* on first start, as a TPM vendor's line would: an
// emulated manufacturer CA (its state in `manufacturer-ca.json`, its root certificate in
// `manufacturer-root.pem`, both in the data directory) certifies the EKs and the AK, and the
// certificates go to the TPM's NV. Tenants verify import evidence against that root, which they
// must obtain out of band (for the emulator: from the operator who holds the data directory).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes, type KeyObject } from 'node:crypto';
import {
  attestationKeyTemplate,
  AK_CERT_INDEX,
  commands,
  EK_CERT_INDEX,
  ManufacturerCa,
  provisionAttestationKey,
  provisionEndorsement,
  readNvCertificate,
  InProcessTransport,
  marshal,
  wire,
  MssimTransport,
  openPersistentTpm,
  password,
  storageKeyTemplate,
  TPM_RC,
  TPM_RH,
  TPM_SU,
  TpmClient,
  TpmError,
  publicKeyOfArea,
  type LaunchTarget,
  type PersistentTpm,
} from '@sealkeep/tpm';

export interface HostTpm {
  client: TpmClient;
  /** The same transport, with localities and DRTM signals, for the measured launch. */
  target: LaunchTarget;
  /** How the TPM is reached, for logs and the measured configuration. */
  description: string;
  close(): Promise<void>;
}

export interface LoadedKey {
  handle: number;
  name: Buffer;
  publicKey: KeyObject;
  /** The marshalled TPMT_PUBLIC, as evidence carries it. */
  publicArea: Buffer;
}

const NO_PCRS: never[] = [];
const EMPTY = Buffer.alloc(0);

function platformKeyFor(dataDir: string): Buffer {
  const file = path.join(dataDir, 'tpm-platform.key');
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
}

async function startup(client: TpmClient): Promise<void> {
  try {
    await client.call(commands.Startup, {}, { startupType: TPM_SU.CLEAR });
  } catch (e) {
    // An external TPM that another boot already started answers TPM_RC_INITIALIZE.
    if (!(e instanceof TpmError && e.rc === TPM_RC.INITIALIZE)) throw e;
  }
}

/** Open the host TPM: `mssim://host:port`, or null for the in-process TPM under `dataDir`. */
export async function openHostTpm(opts: { url: string | null; dataDir: string }): Promise<HostTpm> {
  if (opts.url) {
    const transport = await MssimTransport.connect(opts.url, { platform: true });
    const client = new TpmClient(transport);
    await startup(client);
    return { client, target: transport, description: opts.url, close: () => transport.close() };
  }
  const dir = path.join(opts.dataDir, 'tpm');
  mkdirSync(dir, { recursive: true });
  const persistent: PersistentTpm = await openPersistentTpm({
    path: path.join(dir, 'tpm.state'),
    counterPath: path.join(opts.dataDir, 'tpm.counter'),
    platformKey: platformKeyFor(opts.dataDir),
  });
  const transport = new InProcessTransport(persistent.tpm);
  const client = new TpmClient(transport);
  await startup(client);
  await manufacture(client, opts.dataDir);
  return {
    client,
    target: transport,
    description: 'in-process',
    async close() {
      await client.call(commands.Shutdown, {}, { shutdownType: TPM_SU.CLEAR }).catch(() => {});
      await persistent.close();
    },
  };
}

/** Certify the in-process TPM's EKs and AK once, with the emulated manufacturer's CA. */
async function manufacture(client: TpmClient, dataDir: string): Promise<void> {
  if (await readNvCertificate(client, AK_CERT_INDEX)) return;
  const caFile = path.join(dataDir, 'manufacturer-ca.json');
  let ca: ManufacturerCa;
  if (existsSync(caFile)) ca = ManufacturerCa.fromState(JSON.parse(readFileSync(caFile, 'utf8')));
  else {
    ca = await ManufacturerCa.create();
    writeFileSync(caFile, JSON.stringify(ca.exportState()) + '\n', { mode: 0o600, flag: 'wx' });
  }
  writeFileSync(path.join(dataDir, 'manufacturer-root.pem'), ca.toPem(), { mode: 0o644 });
  await provisionEndorsement(client, ca);
  await provisionAttestationKey(client, ca);
}

/** The manufacturer's certificates in the TPM's NV: the ECC EK's and the AK's (null when not manufactured). */
export async function readEndorsement(client: TpmClient): Promise<{ ekCertificate: Buffer; akCertificate: Buffer } | null> {
  const ekCertificate = await readNvCertificate(client, EK_CERT_INDEX.eccP256);
  const akCertificate = await readNvCertificate(client, AK_CERT_INDEX);
  return ekCertificate && akCertificate ? { ekCertificate, akCertificate } : null;
}

async function primary(client: TpmClient, hierarchy: number, template: wire.TPMT_PUBLIC): Promise<LoadedKey> {
  const r = await client.call(
    commands.CreatePrimary,
    { primaryHandle: hierarchy },
    { inSensitive: { userAuth: EMPTY, data: EMPTY }, inPublic: template, outsideInfo: EMPTY, creationPCR: NO_PCRS },
    { auth: [password()] },
  );
  return { handle: r.objectHandle, name: r.name, publicKey: publicKeyOfArea(r.outPublic), publicArea: marshal(wire.TPMT_PUBLIC, r.outPublic) };
}

/** The storage root key (the same key every start: derived from the owner hierarchy's seed). */
export const loadSrk = (client: TpmClient) => primary(client, TPM_RH.OWNER, storageKeyTemplate('eccP256'));

/** The attestation key (derived from the endorsement seed: the same key every start). */
export const loadAk = (client: TpmClient) => primary(client, TPM_RH.ENDORSEMENT, attestationKeyTemplate('eccP256'));

export async function flush(client: TpmClient, handle: number): Promise<void> {
  await client.call(commands.FlushContext, {}, { flushHandle: handle });
}
