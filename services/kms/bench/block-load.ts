// The data-plane benchmark's client, in its own process: `concurrency` loops over keep-alive
// connections, each sending one batch after another to a block session until the time is up.
// Every request is sealed under the session key (AES-256-GCM over the batch, where it lies) and
// every answer opened, here, as an adapter would, so the client's share of the two cores is part
// of the figure.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { ANSWER_TAG_HEADER, BODY_SEALS, openBody, sealBody, sessionAuthorization } from '@sealkeep/crypto';

export interface BlockLoadJob {
  port: number;
  sessionId: string;
  key: Uint8Array;
  op: 'encrypt' | 'encrypt-sign';
  sectorSize: number;
  /** Sectors per request. */
  sectors: number;
  concurrency: number;
  seconds: number;
  /** The first sequence number to use (each job continues where the last left off). */
  firstSeq: number;
  /** Answers are not sealed (the transport ceiling's echo): a 200 counts unopened. */
  unsealedAnswers?: boolean;
}

export interface BlockLoadResult {
  requests: number;
  seconds: number;
  plaintextBytes: number;
  statuses: Record<string, number>;
  nextSeq: number;
}

/** One sealed request (the body sealed where it lies); a 200 whose answer does not open counts as status 0. */
function post(agent: http.Agent, port: number, op: BlockLoadJob['op'], path: string, key: Buffer, seq: number, body: Buffer, unsealedAnswers: boolean): Promise<number> {
  const authorization = sessionAuthorization(seq, sealBody(key, seq, 'request', BODY_SEALS[op].request, 'POST', path, [body]));
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, agent, headers: { authorization, 'content-type': 'application/octet-stream', 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        if (res.statusCode !== 200 || unsealedAnswers) return resolve(res.statusCode ?? 0);
        const tag = Buffer.from(String(res.headers[ANSWER_TAG_HEADER.toLowerCase()] ?? ''), 'base64url');
        resolve(openBody(key, seq, 'answer', BODY_SEALS[op].answer, 'POST', path, chunks, tag) ? 200 : 0);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function run(job: BlockLoadJob): Promise<BlockLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency, noDelay: true } as http.AgentOptions);
  const key = Buffer.from(job.key);
  const generations = job.op === 'encrypt-sign' ? Buffer.alloc(8 * job.sectors, 0) : Buffer.alloc(0);
  const batch = randomBytes(job.sectorSize * job.sectors);
  const statuses: Record<string, number> = {};
  let seq = job.firstSeq;
  let requests = 0;
  const started = performance.now();
  const until = started + job.seconds * 1000;
  const loop = async (lane: number) => {
    // Each lane writes its own stretch of the volume.
    // and seals its own body (each request seals it again where it lies, as an adapter does).
    const path = `/v1/block-sessions/${job.sessionId}/blocks/${job.op}?lba=${lane * job.sectors}`;
    const body = Buffer.concat([generations, batch]);
    while (performance.now() < until) {
      const status = await post(agent, job.port, job.op, path, key, seq++, body, job.unsealedAnswers === true);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status === 200) requests++;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => loop(i)));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { requests, seconds, plaintextBytes: requests * job.sectors * job.sectorSize, statuses, nextSeq: seq };
}

process.on('message', (job: BlockLoadJob) => {
  run(job).then(
    (result) => process.send!({ result }),
    (e: Error) => process.send!({ error: e.message }),
  );
});
