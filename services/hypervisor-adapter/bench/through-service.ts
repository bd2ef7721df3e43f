// The NBD benchmark's adapter as it runs in production: every sector encrypted, signed, verified
// and decrypted in the service through a block session, the volume key never in the adapter.
// The service runs in a process of its own, as in production (the adapter tests' world: a fresh
// store, the service TPM, two block workers, an emulated host TPM registered and its launch
// approved), and so does the adapter, attested, with the VM started measured and the volume
// attached (integrity high) before its export answers.
//
// Not in the benchmark's process: that process starts every nbdcopy, and each fork marks all of
// its memory copy-on-write, so a service living there took a page fault on the first write to
// every page of its bodies after each copy started (~10,000 faults per 32 MiB, half its CPU).

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testCa } from '../../kms/src/tls.fixture.js';

export interface ServiceProcess {
  /** The service's process, whose CPU time counts with the adapter's. */
  pid: number;
  /** Arguments for `main.ts` that serve the volume as export `name` on the port given. */
  serveArgs: string[];
  /** The environment the adapter runs in: with `tls`, one that trusts the data plane's certificate. */
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

interface Ready {
  serveArgs: string[];
}

/**
 * Starts the service in a child process, with `name` approved as a volume of a started VM; with
 * `tls`, its data plane over TLS under a certificate from an authority made for the run, which the
 * adapter's environment trusts (NODE_EXTRA_CA_CERTS, as an operator's would).
 */
export async function throughService(dir: string, name: string, volumeBytes: number, port: number, tls = false): Promise<ServiceProcess> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const args = [dir, name, String(volumeBytes), String(port)];
  if (tls) {
    const ca = testCa(dir);
    const { certFile, keyFile } = ca.issue('data-plane');
    env.NODE_EXTRA_CA_CERTS = ca.caFile;
    args.push(certFile, keyFile);
  }
  const child = fork(fileURLToPath(import.meta.url), args, { env, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const [ready] = (await Promise.race([once(child, 'message'), once(child, 'exit').then(() => Promise.reject(new Error('the service process exited before it was ready')))])) as [Ready];
  return {
    pid: child.pid!,
    serveArgs: ready.serveArgs,
    env,
    close: async () => {
      child.send('close');
      await once(child, 'exit');
    },
  };
}

/** In the child: the service world, until the parent says close. */
async function serveWorld(dir: string, name: string, volumeBytes: number, port: number, tls?: { certFile: string; keyFile: string }): Promise<void> {
  // A parent that dies (or is interrupted) before or after "ready" ends this process too, world and all.
  const parentGone = once(process, 'disconnect');
  const { letHeapGrowForDataPlane } = await import('../../kms/src/platform/heap-growth.js');
  letHeapGrowForDataPlane();
  const { serviceWorld } = await import('../src/data-plane/service.fixture.js');
  const { adapterCodeManifest } = await import('../src/data-plane/code-manifest.js');
  const { attestOnce } = await import('../src/data-plane/commands.js');
  const { parseCommandLine } = await import('../src/cli-options.js');
  const { silentLogger } = await import('../src/logger.js');
  const { readTlsCredentials } = await import('../../kms/src/http/tls-credentials.js');
  const world = await serviceWorld({ mle: adapterCodeManifest(), ...(tls ? { dataTls: readTlsCredentials({ ...tls, from: 'environment' }) } : {}) });
  const vm = await world.approvedVm(dir, { vmName: 'bench-vm', volumeName: name, volumeBytes });
  // (the data plane on loopback, plain HTTP unless tls: the first key presented is the bench's own service)
  const host = ['--service', world.dataUrl, '--adapter-key', path.join(dir, 'adapter.pem'), '--trust-service-key-on-first-use', '--host-tpm', world.hostTpmDir, '--host-id', world.hostId, '--host-name', 'host-07'];
  const attested = await attestOnce(parseCommandLine(['attest', ...host]), silentLogger);
  const delegation = path.join(dir, 'bench-vm.delegation');
  writeFileSync(delegation, await world.delegationFor(attested.label), { mode: 0o600 });
  const serveArgs = [
    'serve',
    '--log-level', 'error',
    '--listen', `127.0.0.1:${port}`,
    ...host,
    '--vm', `tenant=${world.tenantId},id=${vm.vmId},delegation=${delegation},boot-image=${vm.bootImage},config=${vm.configFile}`,
    '--volume', `name=${name},dir=${path.join(dir, 'remote-volume')},id=${vm.volumeId}`,
  ];
  if (process.connected) {
    process.send!({ serveArgs } satisfies Ready);
    await Promise.race([once(process, 'message'), parentGone]);
  }
  await world.close();
  process.exit(0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, name, volumeBytes, port, certFile, keyFile] = process.argv.slice(2);
  await serveWorld(dir!, name!, Number(volumeBytes), Number(port), certFile && keyFile ? { certFile, keyFile } : undefined);
}
