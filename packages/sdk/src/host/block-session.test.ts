// The block-session client against a stand-in data plane that checks what the service checks:
// the session key both ends derive (ECDH + HKDF), the body sealed under it (sent in parts, opened
// whole), each sequence number once, whole sectors; it seals its answers as the service does, and
// signs each opening with a service key of its own: a client holding another key, or shown a
// point someone put in place of the service's, refuses the session. Ops run on the block engine of
// @sealkeep/crypto with the stand-in's own volume key. Problems come back as typed errors; an
// ended session stays ended; long runs are split into batches sent side by side, and adjacent
// runs waiting for a connection are merged — an integrity failure still names only its own run.
// A volume state answer must open under the session key: one forged in between fails.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  agreeSessionKey,
  ANSWER_TAG_HEADER,
  bodySealsOf,
  decodeVolumeStateRequest,
  encodeVolumeStateAnswer,
  judgeVolumeState,
  nextVolumeState,
  jwkThumbprint,
  merkleRoot,
  publicJwk,
  signSessionOpening,
  generateXtsKey,
  openBody,
  parseSessionAuthorization,
  sealBody,
  selectBlockCryptoEngine,
  SeqWindow,
  TAG_BYTES,
  volumeIdFromUuid,
  VOLUME_STATE_SEALS,
  type SectorCipher,
  type SectorTagger,
  type RecordedVolumeState,
  type VolumeStateMoment,
  newKeyPair,
} from '@sealkeep/crypto';
import { IntegrityError, MAX_BATCH_SECTOR_BYTES, openBlockSession, ReleaseRefusedError, ServiceIdentityError, SessionEndedError, VolumeStateDiffersError, type BlockSession } from './block-session.js';
import { AnswerSealError } from './block-transport.js';

const S = 4096;
const SECTORS = 4096n;
const tenantId = randomUUID();
const vmId = randomUUID();
const volumeId = randomUUID();
const engine = selectBlockCryptoEngine();

interface FakeSession {
  key: Buffer;
  seq: SeqWindow;
  cipher: SectorCipher;
  tagger: SectorTagger;
  ended: string | null;
}

const sessions = new Map<string, FakeSession>();
const seen = { requests: 0, maxInFlight: 0, inFlight: 0, seqs: [] as number[] };
let refuse: string | null = null;
/** Set: block requests are held until this many are in flight at once (or two seconds pass), so a
 * loaded machine cannot answer the first before the client has sent the rest. */
let gather: { count: number; reached: () => void; opened: Promise<void> } | null = null;
/** Runs `work` with block requests gathered until `count` are in flight. */
async function gathered<T>(count: number, work: () => Promise<T>): Promise<T> {
  let reached!: () => void;
  const opened = new Promise<void>((r) => (reached = r));
  gather = { count, reached, opened };
  try {
    return await work();
  } finally {
    gather = null;
  }
}
/** The stand-in service's signing key; `standIn` set: the answer carries another ECDH point than the one signed (someone in between). */
const serviceSigning = newKeyPair('ec', { namedCurve: 'P-256' });
const serviceKid = jwkThumbprint(publicJwk(serviceSigning.publicKey));
let standIn = false;
let server: Server;
let dataUrl: string;

const problem = (res: ServerResponse, status: number, slug: string, extra: Record<string, unknown> = {}) => {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: `https://sealkeep.dev/problems/${slug}`, status, detail: slug, ...extra }));
};

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function gens(body: Buffer, n: number): BigUint64Array {
  const out = new BigUint64Array(n);
  for (let i = 0; i < n; i++) out[i] = body.readBigUInt64BE(i * 8);
  return out;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url!;
  // A block request is in flight from its first byte to its answer: requests that overlap so were
  // sent at once, however slowly a loaded machine reads their bodies.
  if (url.includes('/blocks/')) {
    seen.inFlight++;
    seen.maxInFlight = Math.max(seen.maxInFlight, seen.inFlight);
    if (gather && seen.inFlight >= gather.count) gather.reached();
    res.once('close', () => seen.inFlight--);
  }
  const body = await bodyOf(req);
  if (req.method === 'POST' && url.endsWith('/sessions')) {
    if (refuse) return problem(res, 403, 'release-refused', { condition: refuse });
    const sessionId = randomBytes(16).toString('base64url');
    const { ecdhPublicKey } = JSON.parse(body.toString()) as { ecdhPublicKey: string };
    const agreed = agreeSessionKey(Buffer.from(ecdhPublicKey, 'base64url'), sessionId);
    const bootId = randomUUID();
    const proof = signSessionOpening({ privateKey: serviceSigning.privateKey, kid: serviceKid }, { sid: sessionId, vol: volumeId, vm: vmId, boot: bootId, adapter: ecdhPublicKey, service: agreed.publicPoint.toString('base64url') });
    const answered = standIn ? agreeSessionKey(Buffer.from(ecdhPublicKey, 'base64url'), sessionId) : agreed;
    sessions.set(sessionId, {
      key: agreed.key,
      seq: new SeqWindow(),
      cipher: engine.openSectorCipher({ key: generateXtsKey(), sectorSize: S }),
      tagger: engine.openSectorTagger({ key: randomBytes(32), volumeId: volumeIdFromUuid(volumeId), sectorSize: S }),
      ended: null,
    });
    res.writeHead(201, { 'content-type': 'application/json' });
    return void res.end(JSON.stringify({ sessionId, volumeId, vmId, bootId, sectorSize: S, sectors: String(SECTORS), integrity: 'moderate', keyVersion: 1, expiresAt: new Date(Date.now() + 600_000).toISOString(), serviceEcdhPublicKey: answered.publicPoint.toString('base64url'), sessionProof: proof }));
  }
  const state = /^\/v1\/block-sessions\/([\w-]{22})\/volume-state\?moment=(opened|closed)$/.exec(url);
  if (state) return volumeState(req, res, sessions.get(state[1]!), state[2] as VolumeStateMoment, body);
  const m = /^\/v1\/block-sessions\/([\w-]{22})(?:\/blocks\/([a-z-]+)\?lba=(\d+))?$/.exec(url);
  const s = m && sessions.get(m[1]!);
  if (!m || !s) return problem(res, 410, 'session-ended');
  const auth = parseSessionAuthorization(req.headers.authorization);
  const seals = bodySealsOf(m[2]);
  if (!auth || !openBody(s.key, auth.seq, 'request', seals.request, req.method!, url, [body], auth.tag)) return problem(res, 401, 'unauthenticated');
  if (!s.seq.accept(auth.seq)) return problem(res, 401, 'unauthenticated', { detail: 'replay' });
  seen.seqs.push(auth.seq);
  if (s.ended) return problem(res, 410, 'session-ended', { reason: s.ended });
  if (req.method === 'DELETE') {
    sessions.delete(m[1]!);
    res.writeHead(200, { 'content-type': 'application/json' });
    return void res.end('{"closed":true}');
  }
  const op = m[2]!;
  const lba = BigInt(m[3]!);
  seen.requests++;
  await (gather ? Promise.race([gather.opened, new Promise((r) => setTimeout(r, 2000).unref())]) : new Promise((r) => setTimeout(r, 5)));
  const per = op === 'encrypt' || op === 'decrypt' ? S : op === 'verify-decrypt' || op === 'verify' ? 8 + S + TAG_BYTES : 8 + S;
  if (body.length % per !== 0) return problem(res, 400, 'validation-failed');
  const n = body.length / per;
  const g = op === 'encrypt' || op === 'decrypt' ? 0 : 8 * n;
  const sectors = body.subarray(g, g + n * S);
  let out: Buffer;
  if (op === 'encrypt') (s.cipher.encrypt(lba, sectors, sectors), (out = sectors));
  else if (op === 'decrypt') (s.cipher.decrypt(lba, sectors, sectors), (out = sectors));
  else if (op === 'encrypt-sign') {
    out = Buffer.alloc(n * (S + TAG_BYTES));
    s.cipher.encrypt(lba, sectors, out.subarray(0, n * S));
    s.tagger.tag(lba, gens(body, n), out.subarray(0, n * S), out.subarray(n * S));
  } else if (op === 'sign') {
    out = Buffer.alloc(n * TAG_BYTES);
    s.tagger.tag(lba, gens(body, n), sectors, out);
  } else {
    const failed = s.tagger.verify(lba, gens(body, n), sectors, body.subarray(g + n * S));
    if (failed.length) return problem(res, 422, 'integrity-check-failed', { lbas: failed.map(String) });
    if (op === 'verify') out = Buffer.alloc(0);
    else (s.cipher.decrypt(lba, sectors, sectors), (out = sectors));
  }
  const tag = sealBody(s.key, auth.seq, 'answer', seals.answer, req.method!, url, [out]);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length, [ANSWER_TAG_HEADER]: tag.toString('base64url') });
  res.end(out);
}

/** The stand-in's record of the volume, kept by the service's rule (judgeVolumeState, nextVolumeState). */
let recorded: RecordedVolumeState | null = null;
/** Set: someone in between answers every volume state "as closed", without the session key. */
let forgedState = false;

function volumeState(req: IncomingMessage, res: ServerResponse, s: FakeSession | undefined, moment: VolumeStateMoment, body: Buffer): void {
  const auth = parseSessionAuthorization(req.headers.authorization);
  if (!s || !auth || !openBody(s.key, auth.seq, 'request', VOLUME_STATE_SEALS.request, req.method!, req.url!, [body], auth.tag) || !s.seq.accept(auth.seq)) return problem(res, 401, 'unauthenticated');
  const request = decodeVolumeStateRequest(body);
  if (!request) return problem(res, 400, 'validation-failed');
  const { merkleRoot: root, passedThrough } = request;
  const judged = forgedState ? { continuity: 'as-closed' as const } : judgeVolumeState(recorded, moment, root, passedThrough);
  if ('refused' in judged) {
    return problem(res, 409, 'volume-state-differs', { merkleRoot: root.toString('hex'), recordedRoot: recorded!.root.toString('hex'), recordedAt: '2026-12-06T00:00:00.000Z', recordedAs: recorded!.status });
  }
  if (!forgedState) recorded = nextVolumeState(recorded, moment, root, judged);
  const out = encodeVolumeStateAnswer({ continuity: judged.continuity, merkleRoot: root });
  const tag = forgedState ? randomBytes(16) : sealBody(s.key, auth.seq, 'answer', VOLUME_STATE_SEALS.answer, req.method!, req.url!, [out]);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length, [ANSWER_TAG_HEADER]: tag.toString('base64url') });
  res.end(out);
}

before(async () => {
  server = createServer((req, res) => void handle(req, res).catch((e) => problem(res, 500, String(e))));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  dataUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const signer = { principalId: randomUUID(), key: newKeyPair('ed25519').privateKey };
const open = (connections = 4, serviceKey = serviceSigning.publicKey) => openBlockSession({ dataUrl, signer, tenantId, vmId, volumeId, connections, serviceKey, stream: false });
const generationsFor = (n: number, g = 1n) => BigUint64Array.from({ length: n }, () => g);

test('a body sealed in parts opens whole, and is the body sealed whole', () => {
  const key = randomBytes(32);
  const parts = [randomBytes(24), Buffer.alloc(0), randomBytes(8192), randomBytes(96)];
  const plain = Buffer.concat(parts);
  const url = '/v1/block-sessions/AAAAAAAAAAAAAAAAAAAAAA/blocks/verify?lba=7';
  const tag = sealBody(key, 9, 'request', 'encrypted', 'post', url, parts);
  const whole = Buffer.from(plain);
  assert.deepEqual(sealBody(key, 9, 'request', 'encrypted', 'POST', url, [whole]), tag);
  assert.deepEqual(Buffer.concat(parts), whole, 'the same ciphertext');
  assert.notDeepEqual(whole, plain);
  assert.equal(openBody(key, 9, 'request', 'encrypted', 'POST', url, [whole], tag), true);
  assert.deepEqual(whole, plain);
});

test('encrypt-sign then verify-decrypt round-trips; the ciphertext is not the plaintext; into buffers are filled', async () => {
  const session = await open();
  assert.equal(session.sectorSize, S);
  assert.equal(session.sectors, SECTORS);
  const plaintext = randomBytes(8 * S);
  const copy = Buffer.from(plaintext);
  const g = generationsFor(8, 3n);
  const { ciphertext, tags } = await session.encryptSign(10n, g, copy, copy);
  assert.equal(ciphertext.buffer, copy.buffer, 'written over the plaintext, as asked');
  assert.equal(tags.length, 8 * TAG_BYTES);
  assert.notDeepEqual(ciphertext, plaintext);
  const into = Buffer.alloc(8 * S);
  assert.deepEqual(await session.verifyDecrypt(10n, g, ciphertext, tags, into), plaintext);
  assert.deepEqual(into, plaintext);
  await session.verify(10n, g, ciphertext, tags);
  assert.deepEqual(await session.sign(10n, g, ciphertext), tags);
  const plainAgain = await session.decrypt(10n, await session.encrypt(10n, plaintext));
  assert.deepEqual(plainAgain, plaintext);
  await session.close();
});

test('IntegrityError names every failing LBA, across batches sent in parallel', async () => {
  const session = await open(4);
  const n = (3 * MAX_BATCH_SECTOR_BYTES) / S + 5; // four batches
  const plaintext = randomBytes(n * S);
  const g = generationsFor(n);
  const before = seen.requests;
  seen.maxInFlight = 0;
  const { ciphertext, tags } = await gathered(2, () => session.encryptSign(0n, g, plaintext));
  assert.equal(seen.requests - before, 4, 'split into 4 batches');
  assert.ok(seen.maxInFlight >= 2, 'batches overlap');
  for (const at of [5 * S, (n - 2) * S + 100]) ciphertext.writeUInt8(ciphertext.readUInt8(at) ^ 1, at);
  await assert.rejects(session.verifyDecrypt(0n, g, ciphertext, tags), (e: unknown) => e instanceof IntegrityError && e.status === 422 && e.lbas.join() === `5,${n - 2}`);
  await session.close();
});

test('adjacent runs waiting for a connection go out as one request; each gets its own answer', async () => {
  const session = await open(1);
  const n = 8;
  const plain = Array.from({ length: 10 }, () => randomBytes(n * S));
  const before = seen.requests;
  const sealed = await Promise.all(plain.map((p, i) => session.encryptSign(BigInt(100 + i * n), generationsFor(n), Buffer.from(p))));
  assert.equal(seen.requests - before, 2, 'the first alone, the nine waiting behind it merged');
  const opened = await Promise.all(sealed.map((x, i) => session.verifyDecrypt(BigInt(100 + i * n), generationsFor(n), x.ciphertext, x.tags)));
  opened.forEach((p, i) => assert.ok(p.equals(plain[i]!), `run ${i}`));
  await session.close();
});

test('sequential runs: two in flight, the rest wait and go out merged; runs that cannot merge, small or large, get every connection', async () => {
  const session = await open(8);
  const n = (256 * 1024) / S; // a hypervisor's 256 KiB writes, one after another
  let before = seen.requests;
  seen.maxInFlight = 0;
  await gathered(2, () => Promise.all(Array.from({ length: 16 }, (_, i) => session.encryptSign(BigInt(i * n), generationsFor(n), randomBytes(n * S)))));
  assert.equal(seen.maxInFlight, 2, 'past two in flight, a run that continues another waits');
  assert.ok(seen.requests - before <= 4, `16 runs in ${seen.requests - before} requests: the two first alone, the waiting ones merged`);
  for (const [runs, sectors, gap] of [
    [40, 1, 3],
    [12, 2 * n, 4 * n],
  ] as const) {
    before = seen.requests;
    seen.maxInFlight = 0;
    await gathered(8, () => Promise.all(Array.from({ length: runs }, (_, i) => session.encrypt(BigInt(gap * i), randomBytes(sectors * S))))); // not adjacent: never merged
    assert.equal(seen.requests - before, runs);
    assert.equal(seen.maxInFlight, 8, `${runs} runs of ${sectors * S} bytes apart from one another use all eight connections`);
  }
  await session.close();
});

test('a merged verify-decrypt with one tampered run: that run fails with its LBA, the others are decrypted alone', async () => {
  const session = await open(1);
  const n = 4;
  const plain = Array.from({ length: 4 }, () => randomBytes(n * S));
  const sealed = await Promise.all(plain.map((p, i) => session.encryptSign(BigInt(i * n), generationsFor(n), Buffer.from(p))));
  sealed[2]!.ciphertext.writeUInt8(sealed[2]!.ciphertext.readUInt8(S + 7) ^ 1, S + 7);
  const before = seen.requests;
  const results = await Promise.allSettled(sealed.map((x, i) => session.verifyDecrypt(BigInt(i * n), generationsFor(n), x.ciphertext, x.tags)));
  assert.equal(results[2]!.status, 'rejected');
  const failure = (results[2] as PromiseRejectedResult).reason as IntegrityError;
  assert.ok(failure instanceof IntegrityError);
  assert.deepEqual(failure.lbas, [BigInt(2 * n + 1)]);
  for (const i of [0, 1, 3]) assert.ok((results[i] as PromiseFulfilledResult<Buffer>).value.equals(plain[i]!), `run ${i}`);
  assert.equal(seen.requests - before, 4, 'the first alone, three merged and refused, two sent again alone');
  await session.close();
});

test('sequence numbers are unique and the service accepts all of them under many parallel requests', async () => {
  const session = await open(8);
  seen.seqs = [];
  const runs = Array.from({ length: 200 }, (_, i) => session.encrypt(BigInt(2 * i), randomBytes(S))); // not adjacent: never merged
  await Promise.all(runs);
  assert.equal(new Set(seen.seqs).size, seen.seqs.length);
  assert.equal(seen.seqs.length, 200);
  await session.close();
});

test('a session that ended fails every later call with its reason; listeners hear it once', async () => {
  const session: BlockSession = await open();
  const heard: string[] = [];
  session.onEnded((e) => heard.push(e.reason));
  [...sessions.values()].at(-1)!.ended = 'key-disabled';
  const isEnded = (e: unknown) => e instanceof SessionEndedError && e.status === 410 && e.reason === 'key-disabled';
  await assert.rejects(session.encrypt(0n, randomBytes(S)), isEnded);
  await assert.rejects(session.decrypt(0n, randomBytes(S)), isEnded);
  assert.deepEqual(heard, ['key-disabled']);
  assert.equal(session.ended?.reason, 'key-disabled');
  await session.close(); // nothing to close at the service: no error
});

test('a refused release names its condition', async () => {
  refuse = 'measurements-differ';
  try {
    await assert.rejects(open(), (e: unknown) => e instanceof ReleaseRefusedError && e.status === 403 && e.condition === 'measurements-differ');
  } finally {
    refuse = null;
  }
});

test("an opening the trusted service key does not prove is refused: another key, or another point in the service's place", async () => {
  await assert.rejects(open(4, newKeyPair('ec', { namedCurve: 'P-256' }).publicKey), (e: unknown) => e instanceof ServiceIdentityError && /another key/.test(e.message));
  standIn = true;
  try {
    await assert.rejects(open(), (e: unknown) => e instanceof ServiceIdentityError && /another service/.test(e.message));
  } finally {
    standIn = false;
  }
  const session = await open();
  const plaintext = randomBytes(S);
  assert.deepEqual(await session.decrypt(0n, await session.encrypt(0n, plaintext)), plaintext, 'with the right key and point, the session works');
  await session.close();
});

test("a volume's state: the service's answer opens under the session key; a refusal is a VolumeStateDiffersError; an answer no one but the service could seal fails", async () => {
  const session = await open();
  const root = merkleRoot(randomBytes(Number(SECTORS) * TAG_BYTES));
  const kept = Buffer.from(root);
  assert.deepEqual(await session.recordVolumeState('opened', root), { continuity: 'first', merkleRoot: root });
  assert.equal((await session.recordVolumeState('closed', root)).continuity, 'recorded');
  const earlier = randomBytes(32);
  await assert.rejects(session.recordVolumeState('opened', earlier), (e: unknown) => e instanceof VolumeStateDiffersError && e.status === 409 && e.recordedRoot === root.toString('hex') && e.merkleRoot === earlier.toString('hex'));
  forgedState = true;
  try {
    await assert.rejects(session.recordVolumeState('opened', earlier), AnswerSealError, 'an "as closed" someone else answered');
  } finally {
    forgedState = false;
  }
  assert.ok(root.equals(kept), "the caller's root is left as it was (a copy is sealed)");
  // After an unclean end, an open names the states its replay passed through: the service sees them all.
  const served = randomBytes(32);
  recorded = { status: 'served', root: served, comparable: true };
  const replayed = randomBytes(32);
  assert.equal((await session.recordVolumeState('opened', replayed, [randomBytes(32), served])).continuity, 'resumed');
  await assert.rejects(session.recordVolumeState('opened', randomBytes(32), [randomBytes(32)]), VolumeStateDiffersError, 'a replay that did not pass through the record');
  await assert.rejects(session.recordVolumeState('opened', replayed, Array.from({ length: 5 }, () => randomBytes(32))), RangeError, 'no more than four states passed through');
  await session.close();
});

test('partial sectors are refused before anything is sent', async () => {
  const session = await open();
  await assert.rejects(session.encrypt(0n, randomBytes(100)), RangeError);
  await session.close();
});
