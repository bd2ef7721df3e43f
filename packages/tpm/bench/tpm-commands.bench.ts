// TPM command throughput: PCR_Extend, Quote, Unseal and Sign per second — in-process, over mssim
// (the sealkeep-tpm server in its own process) and against swtpm on the same client loop, in the
// same run. Then the tpm2-tools split-write pitfall: a tool workload against the server with and
// without TCP_QUICKACK, and against swtpm.
//   npm run bench -- tpm-commands

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Tpm } from '../src/engine/tpm.js';
import { TpmClient } from '../src/client/client.js';
import { InProcessTransport, type Transport } from '../src/client/transport.js';
import { password } from '../src/client/auth.js';
import { attestationKeyTemplate, sealedDataTemplate, signingKeyTemplate } from '../src/client/templates.js';
import { MssimTransport } from '../src/transport/mssim-client.js';
import { MssimServer } from '../src/transport/mssim-server.js';
import { quickAckAvailable } from '../src/transport/quick-ack.js';
import { startSwtpm, type Swtpm } from '../src/testing/swtpm.js';
import { PCR_Extend } from '../src/commands/pcr/index.js';
import { Startup } from '../src/commands/startup/index.js';
import { CreatePrimary } from '../src/commands/hierarchy/index.js';
import { Unseal } from '../src/commands/object/index.js';
import { Sign } from '../src/commands/signing/index.js';
import { Quote } from '../src/commands/attestation/index.js';
import { TPM_ALG, TPM_RH, TPM_ST, TPM_SU } from '../src/wire/constants.js';
import { pcrSelection } from '../src/wire/types/index.js';

const exec = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const here = path.dirname(fileURLToPath(import.meta.url));

async function freePort(): Promise<number> {
  for (;;) {
    const srv = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    if (port < 65000) return port;
  }
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await MssimTransport.connect(`mssim://127.0.0.1:${port}`).then(
      (t) => (t.close(), true),
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listening on ${port}`);
}

async function opsPerSecond(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 5; i++) await fn(); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(SECONDS * 1e9);
  let now = start;
  while (now < until) {
    await fn();
    n++;
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

const nullTicket = { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: Buffer.alloc(0) };
const sensitive = (data: Buffer = Buffer.alloc(0)) => ({ userAuth: Buffer.alloc(0), data });

/** The same four workloads on any transport. */
async function workloads(transport: Transport): Promise<Record<string, number>> {
  const c = new TpmClient(transport);
  const pw = { auth: [password()] };
  await c.call(Startup, {}, { startupType: TPM_SU.CLEAR }).catch(() => undefined); // already started is fine
  // Three primaries and no storage parent: swtpm holds only three loaded objects.
  const primary = async (template: ReturnType<typeof signingKeyTemplate>, data: Buffer = Buffer.alloc(0)) =>
    (await c.call(CreatePrimary, { primaryHandle: TPM_RH.OWNER }, { inSensitive: sensitive(data), inPublic: template, outsideInfo: Buffer.alloc(0), creationPCR: [] }, pw)).objectHandle;
  const ak = await primary(attestationKeyTemplate('eccP256'));
  const signer = await primary(signingKeyTemplate('rsa2048'));
  const sealed = await primary(sealedDataTemplate(Buffer.alloc(0), { userWithAuth: true }), Buffer.from('a 32-byte volume key stands here'));
  const digest = Buffer.alloc(32, 0x5a);
  const sel = [pcrSelection(TPM_ALG.SHA256, [0, 1, 2, 3, 16])];
  return {
    'PCR_Extend (sha256)': await opsPerSecond(() => c.call(PCR_Extend, { pcrHandle: 16 }, { digests: [{ hashAlg: TPM_ALG.SHA256, digest }] }, pw)),
    'Quote (ECDSA P-256)': await opsPerSecond(() =>
      c.call(Quote, { signHandle: ak }, { qualifyingData: Buffer.alloc(16, 1), inScheme: { scheme: TPM_ALG.NULL, details: null }, PCRselect: sel }, pw),
    ),
    'Unseal (32 B)': await opsPerSecond(() => c.call(Unseal, { itemHandle: sealed }, {}, pw)),
    'Sign (RSASSA-2048)': await opsPerSecond(() =>
      c.call(Sign, { keyHandle: signer }, { digest, inScheme: { scheme: TPM_ALG.NULL, details: null }, validation: nullTicket }, pw),
    ),
  };
}

/** The compiled server, as deployed (`npm run bench` builds first). */
function startSealkeepServer(port: number): ChildProcess {
  return spawn(process.execPath, [path.join(here, '../dist/cli.js'), '--port', String(port)], { stdio: 'ignore' });
}

function row(name: string, cells: Array<string | number>): string {
  return [name.padEnd(24), ...cells.map((c) => String(typeof c === 'number' ? c.toFixed(0) : c).padStart(12))].join(' ');
}

async function main(): Promise<void> {
  const procs: ChildProcess[] = [];
  let sw: Swtpm | null = null;
  try {
    console.log(`commands per second, one client loop, ${SECONDS} s per figure (TCP_QUICKACK addon: ${quickAckAvailable() ? 'yes' : 'no'})`);
    const inProc = await workloads(new InProcessTransport(new Tpm()));

    const skPort = await freePort();
    procs.push(startSealkeepServer(skPort));
    await waitForPort(skPort);
    const skT = await MssimTransport.connect(`mssim://127.0.0.1:${skPort}`, { platform: true });
    const overMssim = await workloads(skT);
    await skT.close();

    let swtpm: Record<string, number> | null = null;
    try {
      sw = await startSwtpm();
      const swT = await MssimTransport.connect(`mssim://127.0.0.1:${sw.port}`);
      swtpm = await workloads(swT);
      await swT.close();
    } catch (e) {
      console.log(`swtpm: not measured (${(e as Error).message})`, process.env.BENCH_DEBUG ? (e as Error).stack : "");
    }

    console.log(row('command', ['in-process', 'mssim', 'swtpm', 'mssim/swtpm']));
    for (const k of Object.keys(inProc)) {
      const ratio = swtpm ? (overMssim[k]! / swtpm[k]!).toFixed(2) : '-';
      console.log(row(k, [inProc[k]!, overMssim[k]!, swtpm ? swtpm[k]! : '-', ratio]));
    }

    // tpm2-tools writes the 9-byte mssim prefix and the command as two writes without TCP_NODELAY.
    const tools = async (tcti: string, n: number) => {
      const start = Date.now();
      for (let i = 0; i < n; i++) {
        await exec('tpm2_pcrextend', [`16:sha256=${'00'.repeat(32)}`], { env: { ...process.env, TPM2TOOLS_TCTI: tcti } });
        await exec('tpm2_pcrread', ['sha256:16'], { env: { ...process.env, TPM2TOOLS_TCTI: tcti } });
      }
      return (Date.now() - start) / (2 * n);
    };
    const N = 15;
    const results: Array<[string, number]> = [];
    for (const quickAck of [true, false]) {
      const server = new MssimServer({ tpm: new Tpm(), port: 0, quickAck });
      await server.listen();
      await exec('tpm2_startup', ['-c'], { env: { ...process.env, TPM2TOOLS_TCTI: `mssim:host=127.0.0.1,port=${server.commandPort}` } });
      results.push([`sealkeep-tpm, quickack ${quickAck ? 'on' : 'off'}`, await tools(`mssim:host=127.0.0.1,port=${server.commandPort}`, N)]);
      await server.close();
    }
    if (swtpm && sw) results.push(['swtpm (swtpm TCTI)', await tools(sw.tcti, N)]);
    console.log(`\ntpm2-tools workload (tpm2_pcrextend + tpm2_pcrread, ${N} each), milliseconds per tool run:`);
    for (const [name, ms] of results) console.log(`  ${name.padEnd(34)} ${ms.toFixed(1)} ms`);
  } finally {
    for (const p of procs) p.kill();
    await sw?.stop();
  }
}

await main();
