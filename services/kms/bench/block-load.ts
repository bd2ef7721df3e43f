// The data-plane benchmark's client, in its own process: `concurrency` loops over keep-alive
// connections, each sending one batch after another to a block session until the time is up.
// Every request carries a fresh session MAC (AES-GMAC over the batch), computed here as an
// adapter would, so the client's share of the two cores is part of the figure.

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { sessionAuthorization } from '@sealkeep/crypto';

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
}

export interface BlockLoadResult {
  requests: number;
  seconds: number;
  plaintextBytes: number;
  statuses: Record<string, number>;
  nextSeq: number;
}

function post(agent: http.Agent, port: number, path: string, authorization: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, agent, headers: { authorization, 'content-type': 'application/octet-stream', 'content-length': String(body.length) } }, (res) => {
      res.on('data', () => {});
      res.on('error', reject);
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function run(job: BlockLoadJob): Promise<BlockLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency, noDelay: true } as http.AgentOptions);
  const key = Buffer.from(job.key);
  const generations = job.op === 'encrypt-sign' ? Buffer.alloc(8 * job.sectors, 0) : Buffer.alloc(0);
  const body = Buffer.concat([generations, randomBytes(job.sectorSize * job.sectors)]);
  const statuses: Record<string, number> = {};
  let seq = job.firstSeq;
  let requests = 0;
  const started = performance.now();
  const until = started + job.seconds * 1000;
  const loop = async (lane: number) => {
    // Each lane writes its own stretch of the volume.
    const path = `/v1/block-sessions/${job.sessionId}/blocks/${job.op}?lba=${lane * job.sectors}`;
    while (performance.now() < until) {
      const status = await post(agent, job.port, path, sessionAuthorization(key, seq++, 'POST', path, body), body);
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
