// `npm run demo`: Sealkeep end to end on the embedded defaults, in a temporary directory — a
// measured service (PGlite, in-process TPM), a tenant that brings its own key, a host whose TPM
// attests its launch, a VM measured and started, its volume written and read over NBD with the
// key held by the service, no plaintext on disk, a reviewer who checks the evidence and the
// audit chain offline, a restart of the service that the export rides through, an earlier copy
// of the disk put back by the provider and refused (the VM stopped and started again on the
// running adapter's control socket), and the key disabled. Every step is numbered
// and timed; any failure stops the walk with a non-zero exit; the service and the adapter are
// stopped and the directory removed at the end (`-- --keep` keeps it). The `sealkeep` commands run
// in this process: the same main() as `npx sealkeep`. What has no CLI command yet (hosts, VMs, policies) is one SDK call, shown as
// the API request it makes.

import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { importPrivateJwk } from '@sealkeep/crypto';
import { loadProfile, signedRequest, vmReferenceValues, type Signer } from '@sealkeep/sdk';
import { parseCommandLine } from '../cli-options.js';
import { attestOnce, hostInit } from '../data-plane/commands.js';
import { controlRequest } from '../data-plane/control-client.js';
import { silentLogger } from '../logger.js';
import {
  REPO,
  StepFailed,
  Steps,
  bold,
  command,
  dim,
  freePort,
  green,
  have,
  killAllNow,
  logEntries,
  mbPerSecond,
  pretty,
  red,
  say,
  sealkeep,
  setWorkspace,
  show,
  startNode,
  stopAll,
  tool,
  type Child,
} from './demo-kit.js';

const MiB = 1 << 20;
const VOLUME_BYTES = 32 * MiB;
const MARKER = 'ACME-PAYROLL-RECORD';

const keep = process.argv.includes('--keep');
const ws = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-demo-'));
setWorkspace(ws);
const at = (...p: string[]) => path.join(ws, ...p);
for (const d of ['data', 'profiles', 'host', 'vm', 'trust', 'review', 'logs']) mkdirSync(at(d), { recursive: true, mode: 0o700 });
const profile = (name: string) => at('profiles', `${name}.json`);
const signerOf = (name: string): Signer => {
  const p = loadProfile(profile(name));
  return { principalId: p.principalId, key: importPrivateJwk(p.privateJwk) };
};
const api = async (url: string, who: string, method: string, p: string, body?: unknown) => {
  command(`${dim(`(as ${who})`)} ${method} ${p}`);
  return (await signedRequest(url, signerOf(who), method, p, body)) as Record<string, unknown>;
};

interface World {
  ports: { tenant: number; data: number; admin: number };
  urls: { tenant: string; data: string; admin: string };
  service?: Child;
  adapter?: Child;
  tenantId?: string;
  hostId?: string;
  label?: string;
  keyId?: string;
  vmId?: string;
  volumeId?: string;
  nbd?: string;
  host?: Awaited<ReturnType<typeof hostInit>>;
}

async function walk(): Promise<void> {
  const ports = { tenant: await freePort(), data: await freePort(), admin: await freePort() };
  const w: World = { ports, urls: { tenant: `http://127.0.0.1:${ports.tenant}`, data: `http://127.0.0.1:${ports.data}`, admin: `http://127.0.0.1:${ports.admin}` } };
  const steps = new Steps(22);
  say(bold('Sealkeep walkthrough: a tenant-held key, a measured host and VM, a disk served over NBD'));
  say(dim(`workspace ${ws} (paths below are relative to it); logs in logs/`));

  await steps.run('Check the tools: qemu-io, nbdcopy, nbdinfo (Debian: libnbd-bin, qemu-utils)', async () => {
    const missing = ['qemu-io', 'nbdcopy', 'nbdinfo'].filter((t) => !have(t));
    if (missing.length) throw new Error(`${missing.join(', ')} not installed (apt-get install libnbd-bin qemu-utils)`);
    show(`node ${process.version}, ${os.availableParallelism()} cores`);
  });

  await steps.run("Manufacture the host's TPM (emulated, state in host/tpm) and trust its vendor", async () => {
    command(`sealkeep-hypervisor-adapter host-init --host-tpm ${pretty(at('host', 'tpm'))}`);
    w.host = await hostInit(parseCommandLine(['host-init', '--host-tpm', at('host', 'tpm')]));
    writeFileSync(at('host', 'ek.pem'), w.host.ekCertificatePem);
    writeFileSync(at('trust', 'host-vendor.pem'), w.host.manufacturerRootPem!);
    mkdirSync(at('data', 'manufacturer-roots'));
    copyFileSync(at('trust', 'host-vendor.pem'), at('data', 'manufacturer-roots', 'host-vendor.pem'));
    show(`EK certificate      host/ek.pem (issued by the host TPM's manufacturer, root trust/host-vendor.pem)`);
    show(`launch to approve   SINIT sha256:${w.host.sinitDigest.slice(0, 16)}…  MLE (the adapter's code) sha256:${w.host.mleDigest.slice(0, 16)}…`);
    show(`the provider trusts that vendor: data/manufacturer-roots/host-vendor.pem (SEALKEEP_MANUFACTURER_ROOTS)`);
  });

  const serviceEnv: NodeJS.ProcessEnv = {
    ...process.env,
    SEALKEEP_DATA_DIR: at('data'),
    SEALKEEP_BIND: '127.0.0.1',
    SEALKEEP_TENANT_PORT: String(ports.tenant),
    SEALKEEP_DATA_PORT: String(ports.data),
    SEALKEEP_ADMIN_PORT: String(ports.admin),
    SEALKEEP_CHECKPOINT_SECONDS: '2',
    SEALKEEP_LOG_LEVEL: 'info',
  };
  delete serviceEnv.DATABASE_URL;
  delete serviceEnv.SEALKEEP_CONFIG;
  delete serviceEnv.SEALKEEP_TPM;
  delete serviceEnv.SEALKEEP_MANUFACTURER_ROOTS;
  delete serviceEnv.SEALKEEP_PROFILE;
  delete serviceEnv.SEALKEEP_TLS_CERT; // (the walkthrough's URLs are http: on loopback)
  delete serviceEnv.SEALKEEP_TLS_KEY;

  await steps.run('The first operator, made in the store before the service starts', async () => {
    process.env.SEALKEEP_DATA_DIR = at('data');
    delete process.env.DATABASE_URL;
    await sealkeep(['admin', 'init', '--name', 'ops', '--admin-url', w.urls.admin, '--profile', profile('ops')]);
  });

  await steps.run('Start the service as `npm start` does: measured launch, root sealed to code and configuration', async () => {
    command(`SEALKEEP_DATA_DIR=data SEALKEEP_CHECKPOINT_SECONDS=2 … node --import tsx services/kms/src/main.ts   ${dim('(log: logs/service.log)')}`);
    w.service = startNode('the service', path.join(REPO, 'services/kms/src/main.ts'), [], serviceEnv, at('logs', 'service.log'));
    const measured = await w.service.waitForLog((e) => e.msg === 'measured start', 90_000);
    for (const planes of [['tenant'], ['data'], ['admin', 'compliance']]) await w.service.waitForLog((e) => e.msg === 'listening' && JSON.stringify(e.planes) === JSON.stringify(planes), 30_000);
    if (measured.root !== 'unsealed') throw new Error(`the service root is ${String(measured.root)}, not unsealed`);
    show(`code sha256:${String(measured.codeDigest).slice(0, 16)}…  configuration sha256:${String(measured.configurationDigest).slice(0, 16)}…  root ${String(measured.root)}`);
    show(`tenant plane ${w.urls.tenant}   data plane ${w.urls.data}   admin + compliance ${w.urls.admin}`);
    copyFileSync(at('data', 'manufacturer-root.pem'), at('trust', 'service-tpm-vendor.pem'));
    show(`the service TPM's manufacturer root, as a tenant obtains it out of band: trust/service-tpm-vendor.pem`);
    writeFileSync(at('trust', 'service-launch.json'), JSON.stringify({ codeDigest: measured.codeDigest, configurationDigest: measured.configurationDigest }, null, 2));
    show('the launch its operator approved (code and configuration digests), as the operator publishes it: trust/service-launch.json');
  });

  await steps.run('The cloud-admin creates tenant acme; its security officer alice enrolls with her own key', async () => {
    const t = (await sealkeep(['tenant', 'create', 'acme', '--profile', profile('ops'), '--json'], { quiet: true })) as { tenantId: string; enrollment: { code: string } };
    w.tenantId = t.tenantId;
    show(`tenant acme ${t.tenantId}; one-time enrollment code handed to alice out of band`);
    await sealkeep(['enroll', '--code', t.enrollment.code, '--name', 'alice', '--url', w.urls.tenant, '--profile', profile('alice')], { shown: `enroll --code … --name alice --url ${w.urls.tenant}` });
  });

  await steps.run('alice enrolls bob (tenant user) and the cloud-management delegate vcloud-svc; ops enrolls reviewer rita', async () => {
    const enroll = async (name: string, role: string, url: string, by: string, tenant: boolean) => {
      const jwk = (await sealkeep(['principal', 'keygen', '--name', name, '--role', role, '--url', url, ...(tenant ? ['--tenant', w.tenantId!] : []), '--profile', profile(name), '--json'], { quiet: true })) as Record<string, unknown>;
      writeFileSync(at('profiles', `${name}.jwk`), JSON.stringify(jwk));
      const added = (await sealkeep(['principal', 'add', '--name', name, '--role', role, '--public-jwk', at('profiles', `${name}.jwk`), '--profile', profile(by), '--json'], { quiet: true })) as { principalId: string };
      await sealkeep(['principal', 'activate', '--id', added.principalId, '--profile', profile(name)]);
    };
    await enroll('bob', 'tenant-user', w.urls.tenant, 'alice', true);
    await enroll('vcloud-svc', 'delegate', w.urls.tenant, 'alice', true);
    await enroll('rita', 'reviewer', w.urls.admin, 'ops', false);
    show('each made its own key; an administrator only ever saw the public half');
  });

  await steps.run("alice brings acme's key: the service's import evidence is verified here, the key wrapped here", async () => {
    writeFileSync(at('vm-kek.key'), randomBytes(32), { mode: 0o600 });
    const r = (await sealkeep(['keys', 'import', '--file', at('vm-kek.key'), '--type', 'aes-256', '--name', 'vm-kek', '--root', at('trust', 'service-tpm-vendor.pem'), '--cia', 'high/high/moderate', '--profile', profile('alice')])) as string;
    const id = /key ([0-9a-f-]{36})/.exec(r);
    if (!id) throw new Error('no key id in the import result');
    w.keyId = id[1]!;
  });

  await steps.run('The cloud-admin registers host-07 by its EK certificate and approves its launch', async () => {
    const h = await api(w.urls.admin, 'ops', 'POST', '/v1/hosts', { name: 'host-07', ekCertificatePem: w.host!.ekCertificatePem });
    w.hostId = h.hostId as string;
    await api(w.urls.admin, 'ops', 'PUT', `/v1/hosts/${w.hostId}/launch-policy`, { sinitDigests: [w.host!.sinitDigest], mleDigests: [w.host!.mleDigest] });
    show(`host-07 ${w.hostId}: EK chains to a trusted vendor; SINIT and MLE digests approved`);
  });

  /** How the adapter knows the service's key: by its evidence, against the root and the launch the adapter's operator holds. */
  const serviceTrust = ['--service-root', at('trust', 'service-tpm-vendor.pem'), '--service-measurements', at('trust', 'service-launch.json')];

  await steps.run("host-07's adapter attests: credential activation in its TPM, a quote of its measured launch", async () => {
    const args = ['attest', '--service', w.urls.data, '--adapter-key', at('host', 'adapter.pem'), ...serviceTrust, '--host-tpm', at('host', 'tpm'), '--host-id', w.hostId!, '--host-name', 'host-07'];
    command(`sealkeep-hypervisor-adapter ${args.map(pretty).join(' ')}`);
    const a = await attestOnce(parseCommandLine(args), silentLogger);
    w.label = a.label;
    show(`the adapter's key is host-07's hypervisor principal ${bold(a.label)} until ${a.attestedUntil}`);
    show(`it trusts service key ${a.serviceKeyId}: proven by the service TPM's quote of the approved launch, which names it (chained to trust/service-tpm-vendor.pem; nothing trusted on first use); that key signs every block session's opening`);
  });

  const bootImage = at('vm', 'web-01-boot.img');
  const vmConfig = at('vm', 'web-01.json');
  await steps.run('bob registers VM web-01 and its 32 MiB disk; alice binds its release to the measured boot', async () => {
    writeFileSync(bootImage, Buffer.concat([Buffer.from('SEALKEEP DEMO BOOT VOLUME\n'), randomBytes(2 * MiB)]));
    writeFileSync(vmConfig, JSON.stringify({ name: 'web-01', cpus: 2, memoryMiB: 2048, secureBoot: true }));
    const vm = await api(w.urls.tenant, 'bob', 'POST', `/v1/tenants/${w.tenantId}/vms`, { name: 'web-01' });
    w.vmId = vm.vmId as string;
    const withVolume = await api(w.urls.tenant, 'bob', 'POST', `/v1/tenants/${w.tenantId}/vms/${w.vmId}/volumes`, {
      name: 'disk',
      sizeBytes: VOLUME_BYTES,
      sectorSize: 4096,
      cia: { confidentiality: 'high', integrity: 'high', availability: 'moderate' },
    });
    w.volumeId = (withVolume.volumes as Array<{ volumeId: string }>)[0]!.volumeId;
    const refs = vmReferenceValues({ configuration: readFileSync(vmConfig), bootVolumeDigest: createHash('sha256').update(readFileSync(bootImage)).digest() });
    await api(w.urls.tenant, 'alice', 'PUT', `/v1/tenants/${w.tenantId}/vms/${w.vmId}/release-policy`, { keyId: w.keyId, referenceValues: refs });
    show(`VM ${w.vmId}, volume ${w.volumeId} (integrity high: every sector signed and verified)`);
    show(`release under vm-kek only if vPCR 1 = configuration sha256:${refs.events.configuration.slice(0, 16)}… and vPCR 8 = boot image sha256:${refs.events.bootVolume.slice(0, 16)}…`);
  });

  /** bob's grant, through cms:vcloud-svc, to the adapter: a delegation token (good for one exchange) where the adapter reads it. */
  const delegate = async () => {
    const g = (await sealkeep(['token', 'grant', '--to', 'cms:vcloud-svc', '--ttl', '10m', '--profile', profile('bob'), '--json'], { quiet: true })) as { grant: string };
    show(dim("(a grant signed with bob's own key, for cms:vcloud-svc only, good for one exchange)"));
    const x = (await sealkeep(['token', 'exchange', '--subject-token', g.grant, '--next', w.label!, '--profile', profile('vcloud-svc'), '--json'], { quiet: true, shown: `token exchange --subject-token <bob's grant> --next ${w.label}` })) as { accessToken: string; expiresIn: number };
    writeFileSync(at('host', 'web-01.delegation'), x.accessToken, { mode: 0o600 });
    show(`delegation token for ${w.label} (good ${x.expiresIn} s) in host/web-01.delegation`);
  };

  await steps.run(`bob delegates the VM start to vcloud-svc, which hands it on to ${w.label ?? 'the adapter'}`, delegate);

  const disk = at('host', 'volumes', 'web-01-disk');
  /** The adapter's control socket: VMs start and stop on it while the adapter serves. */
  const control = at('host', 'adapter.ctl');
  const webVm = () => `tenant=${w.tenantId},id=${w.vmId},delegation=${at('host', 'web-01.delegation')},boot-image=${bootImage},config=${vmConfig}`;
  const webVolume = () => `name=web-01-disk,dir=${disk},id=${w.volumeId}`;
  /** `sealkeep-hypervisor-adapter vm …` on the control socket, as the hypervisor runs it (the request made here). */
  const vm = async (action: 'start' | 'stop') => {
    if (action === 'stop') {
      command(`sealkeep-hypervisor-adapter vm stop --control host/adapter.ctl --id ${w.vmId}`);
      return controlRequest(control, 'DELETE', `/v1/vms/${w.vmId}`);
    }
    const short = (fields: string) => fields.replaceAll(`${at('.')}${path.sep}`, '');
    command(`sealkeep-hypervisor-adapter vm start --control host/adapter.ctl --vm ${short(webVm())} --volume ${short(webVolume())}`);
    return controlRequest(control, 'POST', '/v1/vms', { vm: webVm(), volumes: [webVolume()] });
  };
  /** Starts the adapter serving web-01 (its log in logs/`log`). */
  const startAdapter = (log: string): Child => {
    const args = [
      'serve',
      '--listen', '127.0.0.1:0',
      '--service', w.urls.data,
      '--adapter-key', at('host', 'adapter.pem'),
      ...serviceTrust,
      '--host-tpm', at('host', 'tpm'),
      '--host-id', w.hostId!,
      '--host-name', 'host-07',
      '--control', control,
      '--vm', webVm(),
      '--volume', webVolume(),
    ];
    command(`sealkeep-hypervisor-adapter ${args.map(pretty).join(' ')}   ${dim(`(log: logs/${log})`)}`);
    return startNode('the adapter', path.join(REPO, 'services/hypervisor-adapter/src/main.ts'), args, process.env, at('logs', log));
  };
  /** Waits for the started adapter to serve web-01: its boot matched the policy, and the NBD address. */
  const served = async (adapter: Child) => {
    const listening = await adapter.waitForLog((e) => e.msg === 'listening', 90_000);
    const boot = await adapter.waitForLog((e) => e.msg === 'VM started (measured boot)');
    const attached = await adapter.waitForLog((e) => e.msg === 'volume attached through the data plane');
    if (boot.policyResult !== 'match') throw new Error(`the VM's measured boot does not meet its policy: ${String(boot.policyResult)}`);
    w.nbd = `nbd://127.0.0.1:${String(listening.port)}/web-01-disk`;
    return { boot, attached, state: await adapter.waitForLog((e) => e.msg === 'volume state recorded at open') };
  };

  await steps.run('Start the adapter: VM web-01 boots measured, its volume key is released into a block session, NBD serves it', async () => {
    w.adapter = startAdapter('adapter.log');
    const { boot, attached, state } = await served(w.adapter);
    show(`measured boot: vPCR 1 ${String(boot.vpcr1).slice(0, 16)}…  vPCR 8 ${String(boot.vpcr8).slice(0, 16)}…  policy ${green(String(boot.policyResult))}`);
    show(`block session ${String(attached.sessionId)}: ${Number(attached.size) / MiB} MiB in ${String(attached.sectorSize)}-byte sectors, integrity ${String(attached.integrity)}, sealed both ways on the wire`);
    show(`the disk's state recorded with the service at its open: ${String(state.continuity)} (the root over its tags and generation words)`);
    show(`NBD export ${w.nbd}`);
    // What a provider with the host's disks in hand could keep: the disk's files as they are now.
    cpSync(disk, `${disk}.copy`, { recursive: true });
    show(dim('(the provider keeps a copy of the disk\'s files as they are now: host/volumes/web-01-disk.copy)'));
  });

  const input = at('vm', 'payroll.raw');
  await steps.run('Write and read the disk through NBD: every sector encrypted and signed in the service', async () => {
    const info = tool('nbdinfo', ['--size', w.nbd!]);
    show(`export size ${info.out.trim()} bytes`);
    const data = randomBytes(VOLUME_BYTES);
    for (let off = 0; off < data.length; off += 4096) Buffer.from(`${MARKER} #${off / 4096} salary=12345 iban=DE00 1234 5678 `).copy(data, off);
    writeFileSync(input, data);
    let started = Date.now();
    tool('nbdcopy', ['--target-is-zero', input, w.nbd!]);
    const inMs = Date.now() - started;
    started = Date.now();
    tool('nbdcopy', [w.nbd!, at('vm', 'read-back.raw')]);
    const outMs = Date.now() - started;
    const same = createHash('sha256').update(readFileSync(at('vm', 'read-back.raw'))).digest('hex') === createHash('sha256').update(data).digest('hex');
    if (!same) throw new Error('the disk did not read back what was written');
    show(`32 MiB in: ${inMs} ms (${bold(mbPerSecond(VOLUME_BYTES, inMs))} MB/s, encrypt-sign)   out: ${outMs} ms (${bold(mbPerSecond(VOLUME_BYTES, outMs))} MB/s, verify-decrypt)   read back identical`);
    const q = tool('qemu-io', ['-f', 'raw', w.nbd!, '-c', 'write -P 0x5a 1M 64k', '-c', 'read -P 0x5a 1M 64k']);
    show(dim(q.out.trim().split('\n').filter((l) => /bytes at offset/.test(l)).join('\n')));
  });

  await steps.run('The backing files hold no plaintext', async () => {
    const needle = Buffer.from(MARKER);
    const count = (buf: Buffer) => {
      let n = 0;
      for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) n++;
      return n;
    };
    show(`"${MARKER}" in vm/payroll.raw (what the VM wrote): ${count(readFileSync(input))} times`);
    const dir = at('host', 'volumes', 'web-01-disk');
    let total = 0;
    for (const name of readdirSync(dir)) {
      const n = count(readFileSync(path.join(dir, name)));
      total += n;
      show(`host/volumes/web-01-disk/${name.padEnd(12)} ${String(statSync(path.join(dir, name)).size).padStart(10)} bytes   "${MARKER}": ${n} times`);
    }
    if (total !== 0) throw new Error(`plaintext found in the backing files (${total} times)`);
  });

  await steps.run("The reviewer fetches host-07's evidence and verifies it offline against the vendor's root", async () => {
    const e = (await sealkeep(['evidence', 'get', w.hostId!, '--out', at('review', 'host-07-evidence.json'), '--profile', profile('rita'), '--json'], { quiet: true })) as { nonce: string };
    show(`host-07's last accepted quote in review/host-07-evidence.json (nonce ${e.nonce.slice(0, 16)}…)`);
    // The reviewer's own reference values: the launch the provider says it approved (SINIT, and the adapter build as MLE).
    const policy = { version: 1, events: [{ pcr: 17, type: 'EVTYPE_HASH_START', digest: w.host!.sinitDigest }, { pcr: 18, type: 'EVTYPE_MLE_HASH', digest: w.host!.mleDigest }] };
    writeFileSync(at('review', 'host-07-launch-policy.json'), JSON.stringify(policy, null, 2));
    show('reference values: review/host-07-launch-policy.json (the approved SINIT in PCR 17, the adapter build in PCR 18)');
    await sealkeep(['verify', 'evidence', at('review', 'host-07-evidence.json'), '--root', at('trust', 'host-vendor.pem'), '--nonce', e.nonce, '--policy', at('review', 'host-07-launch-policy.json')]);
  });

  await steps.run("The reviewer exports acme's audit chain and verifies it offline against the service's attestation key", async () => {
    await new Promise((r) => setTimeout(r, 2500)); // the block requests' batch entry, and a checkpoint over it
    await sealkeep(['audit', 'export', '--chain', w.tenantId!, '--out', at('review', 'acme-audit.jsonl'), '--profile', profile('rita')]);
    await sealkeep(['service', 'measurements', '--ak-out', at('review', 'service-ak.pem'), '--profile', profile('rita')], { quiet: true });
    show(dim('(the service AK written to review/service-ak.pem)'));
    await sealkeep(['audit', 'verify', at('review', 'acme-audit.jsonl'), '--trusted-ak', at('review', 'service-ak.pem')]);
  });

  await steps.run('Who asked for a block request: the delegation chain in the audit entry', async () => {
    const entries = readFileSync(at('review', 'acme-audit.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { action?: string; actorChain?: string[]; details?: Record<string, unknown>; seq?: number });
    // The largest batch entry: the copies of step 13 (the first one is the volume's key check).
    const batch = entries.filter((e) => e.action === 'block.batch').sort((a, b) => Number(b.details?.bytes ?? 0) - Number(a.details?.bytes ?? 0))[0];
    if (!batch?.actorChain) throw new Error('no block.batch entry in the audit export');
    if (batch.actorChain.length !== 3 || batch.actorChain[0] !== 'tn:bob' || batch.actorChain[1] !== 'cms:vcloud-svc' || batch.actorChain[2] !== w.label) throw new Error(`unexpected chain ${batch.actorChain.join(' > ')}`);
    show(`block.batch (seq ${batch.seq}): ${bold(batch.actorChain.join(' > '))}`);
    const d = batch.details ?? {};
    show(dim(Object.entries(d).map(([k, v]) => `${k}=${String(v)}`).join('  ')));
    const starts = entries.filter((e) => e.action === 'vm.start' || e.action === 'volume.release').map((e) => `${e.action}: ${(e.actorChain ?? []).join(' > ')}`);
    show(dim(starts.join('\n')));
  });

  await steps.run('The service restarts (an upgrade, say): the export stays, and its next read opens a new block session', async () => {
    command(`kill -TERM <service>; SEALKEEP_DATA_DIR=data … node --import tsx services/kms/src/main.ts   ${dim('(log: logs/service-restarted.log)')}`);
    const code = await w.service!.stop();
    w.service = startNode('the service', path.join(REPO, 'services/kms/src/main.ts'), [], serviceEnv, at('logs', 'service-restarted.log'));
    const measured = await w.service.waitForLog((e) => e.msg === 'measured start', 90_000);
    for (const planes of [['tenant'], ['data'], ['admin', 'compliance']]) await w.service.waitForLog((e) => e.msg === 'listening' && JSON.stringify(e.planes) === JSON.stringify(planes), 30_000);
    show(`service exited ${code} and started again: root ${String(measured.root)}; its block sessions ended with it`);
    show(dim('(vcloud-svc keeps a fresh delegation where the adapter reads it: a session is opened only for a tenant user)'));
    await delegate();
    tool('qemu-io', ['-f', 'raw', w.nbd!, '-c', 'read -P 0x5a 1M 64k']);
    const renewed = await w.adapter!.waitForLog((e) => e.msg === 'block session renewed', 5_000);
    const ended = logEntries(at('logs', 'adapter.log'), (e) => e.msg === 'block session ended; a new one opens at the next request');
    show(`adapter: block session ${String(ended.at(-1)?.sessionId ?? '(the old one)')} ended (${String(ended.at(-1)?.reason ?? 'unknown to the restarted service')}); ${String(renewed.sessionId)} opened in its place for the read, every release condition checked again`);
  });

  /** acme's audit entries of one action, as alice reads them. */
  const auditOf = async (action: string) => {
    const audit = await api(w.urls.tenant, 'alice', 'GET', `/v1/tenants/${w.tenantId}/audit`);
    return (audit.lines as string[]).map((l) => JSON.parse(l) as { action: string; outcome: string; details: Record<string, unknown>; actorChain: string[] }).filter((e) => e.action === action);
  };

  await steps.run("The provider puts the disk's earlier copy back: every sector of it verifies, but the service refuses it", async () => {
    const stopped = await vm('stop');
    if (stopped.status !== 204) throw new Error(`the VM did not stop: ${JSON.stringify(stopped.body)}`);
    const closed = (await auditOf('volume.state-closed')).at(-1);
    if (!closed) throw new Error('the adapter did not record the disk\'s state at its close');
    show(`web-01 stopped, the adapter serves on; the root of the disk's tags recorded at its clean close (acme's audit: volume.state-closed, root ${String(closed.details.merkleRootHash).slice(0, 16)}…)`);
    command('mv host/volumes/web-01-disk host/volumes/web-01-disk.now; cp -a host/volumes/web-01-disk.copy host/volumes/web-01-disk   ' + dim('(the provider)'));
    renameSync(disk, `${disk}.now`);
    cpSync(`${disk}.copy`, disk, { recursive: true });
    await delegate();
    const refused = await vm('start');
    if (refused.status !== 409) throw new Error(`the adapter served the earlier copy (${refused.status})`);
    show(`refused: ${refused.status} ${String(refused.body!.type).replace(/^.*\//, '')}: ${String(refused.body!.detail)}`);
    const refusal = (await auditOf('volume.state-opened')).filter((e) => e.outcome === 'failure').at(-1);
    if (!refusal) throw new Error('the refusal is not in acme\'s audit');
    show(`acme's audit: volume.state-opened ${red(refusal.outcome)}, root ${String(refusal.details.merkleRootHash).slice(0, 16)}… where the close left ${String(refusal.details.recordedRootHash).slice(0, 16)}…, by ${refusal.actorChain.join(' > ')}`);
  });

  await steps.run('The disk back as it was closed: web-01 starts again on the same adapter', async () => {
    command('rm -r host/volumes/web-01-disk; mv host/volumes/web-01-disk.now host/volumes/web-01-disk');
    rmSync(disk, { recursive: true });
    renameSync(`${disk}.now`, disk);
    await delegate();
    const started = await vm('start');
    if (started.status !== 201) throw new Error(`web-01 did not start: ${JSON.stringify(started.body)}`);
    const state = await w.adapter!.waitForLog((e) => e.msg === 'volume state recorded at open' && e.continuity === 'as-closed');
    show(`the disk's state at its open: ${green(String(state.continuity))}; NBD export ${w.nbd}`);
    const q = tool('qemu-io', ['-f', 'raw', w.nbd!, '-c', 'read -P 0x5a 1M 64k']);
    show(dim(q.out.trim().split('\n').filter((l) => /bytes at offset/.test(l)).join('\n')));
  });

  await steps.run("alice disables acme's key: the service forgets the volume key and the export stops", async () => {
    await api(w.urls.tenant, 'alice', 'POST', `/v1/tenants/${w.tenantId}/keys/${w.keyId}/disable`);
    const started = Date.now();
    let refused = '';
    while (Date.now() - started < 8_000) {
      const r = tool('qemu-io', ['-f', 'raw', w.nbd!, '-c', 'read 0 4k'], { allowFailure: true, quiet: true });
      if (r.code !== 0 || /failed|error/i.test(r.out)) {
        // EIO on the read, or — the adapter heard the end first — the export refused, with the reason QEMU reports.
        refused = r.out.trim().split('\n').slice(0, 2).join('\n');
        break;
      }
      await new Promise((res) => setTimeout(res, 250));
    }
    if (!refused) throw new Error('the export still served reads 8 s after the key was disabled');
    command(`qemu-io -f raw ${w.nbd} -c 'read 0 4k'`);
    show(dim(refused));
    const stopped = await w.adapter!.waitForLog((e) => e.msg === 'export stopped: its volume key is no longer released; requests fail with EIO', 5_000);
    show(`adapter: export ${String(stopped.export)} stopped (${String(stopped.reason)}) ${((Date.now() - started) / 1000).toFixed(1)} s after the key was disabled`);
  });

  await steps.run('Stop the adapter and the service', async () => {
    const adapterCode = await w.adapter!.stop();
    const serviceCode = await w.service!.stop();
    show(`adapter exited ${adapterCode}, service exited ${serviceCode}`);
    const errors = ['service.log', 'service-restarted.log'].flatMap((log) => logEntries(at('logs', log), (e) => Number(e.level) >= 50));
    if (errors.length) throw new Error(`the service logged ${errors.length} error(s): ${String(errors[0]!.msg)}`);
  });
}

let failed = false;
const interrupted = () => {
  killAllNow();
  process.exit(130);
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);
try {
  await walk();
  say(`\n${green(bold('Walkthrough complete.'))}`);
} catch (error) {
  failed = true;
  say(`\n${red(bold(error instanceof StepFailed ? error.message : `walkthrough failed: ${(error as Error).message}`))}`);
  const cause = (error as Error).cause as Error | undefined;
  if (cause?.stack) say(dim(cause.stack.split('\n').slice(0, 6).join('\n')));
  for (const f of ['service.log', 'adapter.log']) {
    try {
      const tail = readFileSync(at('logs', f), 'utf8').trim().split('\n').slice(-6);
      say(dim(`--- last lines of logs/${f}`));
      for (const line of tail) say(dim(line.slice(0, 300)));
    } catch {
      // not started
    }
  }
} finally {
  await stopAll();
  if (keep || failed) say(dim(`workspace kept: ${ws}`));
  else rmSync(ws, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
