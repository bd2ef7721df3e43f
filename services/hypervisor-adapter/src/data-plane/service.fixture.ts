// Test set-up: the real service in this process, listening on real ports (tenant, data, admin),
// built as services/kms's own tests build it — a fresh store, the service's host TPM and key
// engine (keysApi: tenant acme with officer alice and user bob), VM vTPMs, block sessions on two
// worker threads, host attestation trusting the manufacturer of this test's host TPM — and the
// host: an emulated TPM in a temporary directory, certified as `host-init` does it, registered
// and its launch approved by the cloud-admin. `delegationFor(label)` is bob → cms:vcloud-svc → label;
// `approvedVm(...)` registers a VM with one volume whose release the officer approves for its boot.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TpmManager } from '@sealkeep/tpm';
import { delegationGrant, exchangeToken, launchDigests, manufactureHostTpm, openHostTpm, signedRequest, vmReferenceValues, type Signer } from '@sealkeep/sdk';
import { keysApi, type KeysApi } from '../../../kms/src/features/keys/keys-api.fixture.js';
import { buildListeners } from '../../../kms/src/server.js';
import { serverFor } from '../../../kms/src/http/listen.js';
import type { TlsCredentials } from '../../../kms/src/http/tls-credentials.js';
import { BlockPool } from '../../../kms/src/features/blocks/block-pool.js';
import { BlockSessions } from '../../../kms/src/features/blocks/block-sessions.js';
import { loadAk } from '../../../kms/src/platform/host-tpm.js';
import { deriveTokenKey } from '../../../kms/src/auth/token-key.js';

export interface ServiceWorld {
  api: KeysApi;
  tenantUrl: string;
  dataUrl: string;
  adminUrl: string;
  sessions: BlockSessions;
  tenantId: string;
  officer: Signer;
  bob: Signer;
  operator: Signer;
  /** The emulated host TPM's directory (certified) and the host's id at the service. */
  hostTpmDir: string;
  hostId: string;
  /** The hypervisor image the host's launch measures (approved for the host). */
  mle: Buffer;
  /** A delegation from bob through cms:vcloud-svc to `label` (the adapter), to exchange on the data plane. */
  delegationFor(label: string, scope?: string): Promise<string>;
  /**
   * bob registers a VM with one volume (4 KiB sectors, integrity high); alice makes its key and a
   * release policy naming the boot image and configuration written here in `dir` (boot.img, vm.json).
   */
  approvedVm(dir: string, o: { vmName: string; volumeName: string; volumeBytes: number }): Promise<ApprovedVm>;
  /** JSON as a principal on a plane. */
  call(url: string, who: Signer, method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export interface ApprovedVm {
  vmId: string;
  volumeId: string;
  keyId: string;
  bootImage: string;
  bootVolumeDigest: Buffer;
  configFile: string;
  configuration: Buffer;
}

const signerOf = (c: { id: string; key: import('node:crypto').KeyObject }): Signer => ({ principalId: c.id, key: c.key });

/** `dataTls`: the data plane over TLS with this pair, at https://localhost (its certificate must name localhost). */
export async function serviceWorld(opts: { mle: Buffer; freshSeconds?: number; dataTls?: TlsCredentials }): Promise<ServiceWorld> {
  const api = await keysApi();
  const dir = await mkdtemp(path.join(tmpdir(), 'sealkeep-hv-world-'));
  const hostTpmDir = path.join(dir, 'host-tpm');
  const hostTpm = await openHostTpm(hostTpmDir);
  const made = await manufactureHostTpm(hostTpm.client, hostTpm.dir);
  await hostTpm.close();

  const vtpms = await TpmManager.open({ dir: path.join(dir, 'vtpms'), platformKey: Buffer.alloc(32, 7) });
  const sessions = new BlockSessions(api.f.store.db, new BlockPool(2));
  api.keys.engine.onForget((keyId) => void sessions.endWhere((s) => keyId === undefined || s.kekId === keyId, 'key-disabled'));
  const ak = await loadAk(api.t.host.client);
  const apps = buildListeners(
    {
      store: api.f.store,
      tokenKey: deriveTokenKey(Buffer.alloc(32, 9)),
      keys: api.keys,
      data: { vtpms, sessions, attestation: { tpm: api.t.host.client, akHandle: ak.handle, akCertificatePem: api.keys.endorsement?.akCertificatePem ?? null } },
      hosts: { tpm: api.t.host.client, settings: { trustedRoots: [made.manufacturerRootPem!], freshSeconds: opts.freshSeconds ?? 60 } },
      onInternalError: (err) => console.error('service internal error:', err),
    },
    [['tenant'], ['data'], ['admin', 'compliance']],
  );
  const servers: Server[] = [];
  const urls: string[] = [];
  for (const [i, app] of apps.entries()) {
    const tls = i === 1 ? opts.dataTls : undefined;
    const server = serverFor(app, tls).listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    urls.push(`${tls ? 'https://localhost' : 'http://127.0.0.1'}:${(server.address() as AddressInfo).port}`);
  }
  const [tenantUrl, dataUrl, adminUrl] = urls as [string, string, string];
  const operator = signerOf(api.f.operator);
  const call = async (url: string, who: Signer, method: string, p: string, body?: unknown) => (await signedRequest(url, who, method, p, body)) as Record<string, unknown>;

  const host = await call(adminUrl, operator, 'POST', '/v1/hosts', { name: 'host-07', ekCertificatePem: new X509Certificate(made.ekCertificate).toString() });
  const hostId = host.hostId as string;
  const { sinitDigest, mleDigest } = launchDigests(opts.mle);
  await call(adminUrl, operator, 'PUT', `/v1/hosts/${hostId}/launch-policy`, { sinitDigests: [sinitDigest], mleDigests: [mleDigest] });
  const cms = signerOf(await api.f.addPrincipal(api.tenantId, 'vcloud-svc', 'delegate'));
  const bob = signerOf(api.user);

  return {
    api,
    tenantUrl,
    dataUrl,
    adminUrl,
    sessions,
    tenantId: api.tenantId,
    officer: signerOf(api.officer),
    bob,
    operator,
    hostTpmDir,
    hostId,
    mle: opts.mle,
    call,
    async approvedVm(dir, o) {
      const t = `/v1/tenants/${api.tenantId}`;
      const vm = await call(tenantUrl, bob, 'POST', `${t}/vms`, { name: o.vmName });
      const vmId = vm.vmId as string;
      const vol = await call(tenantUrl, bob, 'POST', `${t}/vms/${vmId}/volumes`, {
        name: o.volumeName,
        sizeBytes: o.volumeBytes,
        sectorSize: 4096,
        cia: { confidentiality: 'high', integrity: 'high', availability: 'moderate' },
      });
      const volumeId = (vol.volumes as Array<{ volumeId: string }>)[0]!.volumeId;
      const key = await call(tenantUrl, signerOf(api.officer), 'POST', `${t}/keys`, { name: `${o.vmName}-kek`, type: 'aes-256' });
      const bootImage = path.join(dir, 'boot.img');
      const image = Buffer.concat([Buffer.from('boot sector '), randomBytes(64 << 10)]);
      await writeFile(bootImage, image);
      const configFile = path.join(dir, 'vm.json');
      const configuration = Buffer.from('{"cpus":2,"memoryMiB":2048,"secureBoot":true}');
      await writeFile(configFile, configuration);
      const bootVolumeDigest = createHash('sha256').update(image).digest();
      await call(tenantUrl, signerOf(api.officer), 'PUT', `${t}/vms/${vmId}/release-policy`, { keyId: key.keyId, referenceValues: vmReferenceValues({ configuration, bootVolumeDigest }) });
      return { vmId, volumeId, keyId: key.keyId as string, bootImage, bootVolumeDigest, configFile, configuration };
    },
    async delegationFor(label, scope) {
      const grant = delegationGrant({ key: bob.key, principalId: bob.principalId, tenantId: api.tenantId, to: 'cms:vcloud-svc', ...(scope ? { scope } : {}) });
      return (await exchangeToken(tenantUrl, cms, { subjectToken: grant, nextActor: label })).accessToken;
    },
    async close() {
      // Ending the sessions ends their block streams, which the listeners would wait for.
      await sessions.closeAll();
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await sessions.pool.destroy();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
