// The benchmark's HTTP client, run in its own process so that its work shares neither the event
// loop nor the CPU account of the service it measures: `concurrency` loops over one keep-alive
// node:http agent, each sending its next request as soon as the previous one is answered, until
// the time is up or the pre-made requests (each with its own signed proof) run out.

import http from 'node:http';

export interface LoadJob {
  port: number;
  method: 'GET' | 'POST';
  path: string;
  /** One entry per request, used once each (a proof's id is single-use); null: the same bare request throughout. */
  requests: Array<{ authorization?: string; body?: string }> | null;
  concurrency: number;
  seconds: number;
}

export interface LoadResult {
  completed: number;
  seconds: number;
  /** Answers by status code. */
  statuses: Record<string, number>;
  /** True when the pre-made requests ran out before the time did. */
  ranDry: boolean;
  p50Ms: number;
  p99Ms: number;
}

function send(agent: http.Agent, job: LoadJob, r: { authorization?: string; body?: string } | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (r?.authorization) headers.authorization = r.authorization;
    if (r?.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(r.body));
    }
    const req = http.request({ host: '127.0.0.1', port: job.port, method: job.method, path: job.path, agent, headers }, (res) => {
      res.on('error', reject);
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.resume();
    });
    req.on('error', reject);
    req.end(r?.body);
  });
}

async function run(job: LoadJob): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });
  const statuses: Record<string, number> = {};
  const latencies: number[] = [];
  let next = 0;
  let ranDry = false;
  const start = performance.now();
  const until = start + job.seconds * 1000;
  const loop = async () => {
    while (performance.now() < until) {
      const i = next++;
      if (job.requests && i >= job.requests.length) {
        ranDry = true;
        return;
      }
      const sent = performance.now();
      const status = await send(agent, job, job.requests?.[i]);
      latencies.push(performance.now() - sent);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { completed: latencies.length, seconds, statuses, ranDry, p50Ms: at(0.5), p99Ms: at(0.99) };
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => process.send!({ result }),
    (err: unknown) => process.send!({ error: (err as Error)?.stack ?? String(err) }),
  );
});
