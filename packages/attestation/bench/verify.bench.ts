// Offline evidence verification: verifyEvidence() per second on real evidence from the in-process
// TPM — a quote (ECDSA P-256, sha1 and sha256 PCRs 17–22), a 100-event CEL launch log replayed in
// both banks, the AK's three-certificate chain (AK → issuing CA → root) and reference values —
// one verification at a time, so one core's worth of work; then the whole bundle, with the EK
// chain and the static log too. Beside it, references measured in the same run: node:crypto verifying the same
// quote signature, node:crypto verifying the chain's two signatures, and `openssl verify` of the
// same chain (a process per run, as a reviewer's script would call it).
//   npm run bench -- verify          (BENCH_SECONDS, default 3 s per figure)

import { spawnSync } from 'node:child_process';
import { X509Certificate, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unmarshal, wire } from '@sealkeep/tpm';
import { evidenceFixture } from '../src/evidence/evidence.fixture.js';
import { verifyEvidence, type VerifyEvidenceOptions } from '../src/evidence/verify.js';
import type { EvidenceBundle } from '../src/evidence/bundle.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const EVENTS = 100;
const DRTM_PCRS = [17, 18, 19, 20, 21, 22];

interface Rate {
  /** Operations per wall-clock second. */
  perSecond: number;
  /** Operations per second of CPU time the process used (all its threads). */
  perCpuSecond: number;
}

async function rate(fn: () => unknown, seconds = SECONDS): Promise<Rate> {
  for (let i = 0; i < 5; i++) await fn(); // warm-up
  let n = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  const until = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < until) {
    await fn();
    n++;
    now = process.hrtime.bigint();
  }
  const used = process.cpuUsage(cpu);
  return { perSecond: n / (Number(now - start) / 1e9), perCpuSecond: n / ((used.user + used.system) / 1e6) };
}

/** `openssl verify` runs per second (each a process), or why it could not be measured. */
function opensslRate(dir: string, runs: number): number | string {
  const args = ['verify', '-CAfile', 'root.pem', '-untrusted', 'chain.pem', 'ak.pem'];
  const first = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (first.error || first.status !== 0) return `not measured (${first.error?.message ?? first.stderr.trim()})`;
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) spawnSync('openssl', args, { cwd: dir });
  return runs / (Number(process.hrtime.bigint() - start) / 1e9);
}

const fmt = (n: number) => n.toFixed(0).padStart(9);
/** One figure: per second (and per CPU second), and verifyEvidence's rate divided by it. */
const row = (name: string, r: Rate | number | string, base?: Rate) => {
  if (typeof r === 'string') return `  ${name.padEnd(62)} ${r}`;
  const perSecond = typeof r === 'number' ? r : r.perSecond;
  const cpu = typeof r === 'number' ? ''.padEnd(17) : ` ${fmt(r.perCpuSecond)} /CPU-s`;
  const ratio = base ? `   verifyEvidence/this = ${(base.perSecond / perSecond).toPrecision(2)}` : '';
  return `  ${name.padEnd(62)} ${fmt(perSecond)} /s${cpu}${ratio}`;
};

async function main(): Promise<void> {
  // 100 DRTM events: HASH_START, MLE_HASH and 98 EV_IPL modules.
  // The AK certified by an attestation CA: a chain of three (the IAK model's is two).
  const fx = await evidenceFixture({ modules: EVENTS - 2, akIssuer: 'attestation-ca' });
  const nonce = Buffer.from('bench nonce 0001');
  const full = await fx.bundle(nonce);
  const drtmOnly = await fx.bundle(nonce, { pcrs: DRTM_PCRS });
  const { ek: _ek, ...withoutEk } = drtmOnly;
  const workload: EvidenceBundle = { ...withoutEk, eventLogs: { drtm: drtmOnly.eventLogs!.drtm! } };
  const policy = { pcrs: { sha256: Object.fromEntries(DRTM_PCRS.map((p) => [String(p), drtmOnly.pcrs.sha256![String(p)]!])) } };
  const opts: VerifyEvidenceOptions = { trustedRoots: fx.trustedRoots, nonce, policy };

  // Without an EK certificate the workload has one error finding (ek-certificate-missing), and a
  // privacy CA's AK certificate names no EK (ak-ek-binding-absent): nothing else may show.
  const expected = ['ak-ek-binding-absent', 'ek-certificate-missing'];
  const check = await verifyEvidence(workload, opts);
  if (check.findings.map((f) => f.id).sort().join() !== expected.join()) throw new Error(`the bench bundle does not verify: ${JSON.stringify(check.findings)}`);
  const fullCheck = await verifyEvidence(full, { ...opts, policy: {} });
  if (!fullCheck.ok) throw new Error(`the full bundle does not verify: ${JSON.stringify(fullCheck.findings)}`);

  // References on the same material.
  const attest = Buffer.from(workload.quote.attest, 'base64');
  const sig = unmarshal(wire.TPMT_SIGNATURE, Buffer.from(workload.quote.signature, 'base64')).signature as { signatureR: Buffer; signatureS: Buffer };
  const rs = Buffer.concat([sig.signatureR, sig.signatureS]);
  const [ak, ca, root] = [workload.ak.certificate!, workload.ak.chain![0]!, fx.attestationCa.root.der.toString('base64')].map((b) => new X509Certificate(Buffer.from(b, 'base64')));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-verify-bench-'));
  try {
    writeFileSync(path.join(dir, 'root.pem'), fx.attestationCa.root.pem);
    writeFileSync(path.join(dir, 'chain.pem'), fx.attestationCa.issuing.pem);
    writeFileSync(path.join(dir, 'ak.pem'), ak!.toString());

    console.log(`offline evidence verification, one at a time, ${SECONDS} s per figure (Node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'})`);
    console.log(`workload: quote of sha1+sha256 PCRs 17-22, ${workload.eventLogs!.drtm!.length}-event CEL log replayed in 2 banks, AK chain of 3 certificates, 6 reference values`);
    const base = await rate(() => verifyEvidence(workload, opts));
    console.log(row('verifyEvidence (the workload)', base));
    console.log(row('verifyEvidence (+ EK chain of 2, static log of 13 events)', await rate(() => verifyEvidence(full, { ...opts, policy: {} }))));
    console.log('references, same run (verifyEvidence/this: the verifier\'s rate over the reference\'s):');
    console.log(row('node:crypto ECDSA P-256 verify of the same quote signature', await rate(() => verify('sha256', attest, { key: fx.ak.key, dsaEncoding: 'ieee-p1363' }, rs)), base));
    console.log(row('node:crypto X509Certificate.verify of the chain (2 signatures)', await rate(() => ak!.verify(ca!.publicKey) && ca!.verify(root!.publicKey)), base));
    const runs = Math.max(20, Math.round(40 * SECONDS));
    const openssl = opensslRate(dir, runs);
    console.log(row(`openssl verify of the same chain (${runs} runs, a process each)`, openssl, base));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
