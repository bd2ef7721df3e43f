// The roots of whole chunks of a volume's tag file, hashed on worker threads (one per core, at
// most four) instead of the event loop: opening a large volume reads and hashes its whole tag file
// (2^21 sectors, 80 MiB: about half a second of SHA-256 here), which on the event loop stalled
// every other volume's requests ~16 ms a chunk. Each worker opens the file read-only and takes
// chunks in turn; the roots come back in chunk order, and each to `onRoot` as it is hashed. The
// workers live for one call, which an AbortSignal ends early (a volume closing while its chunks
// are checked in the background).

import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { selectBlockCryptoEngine } from '@sealkeep/crypto';
import { readFully } from './read-fully.js';
import { chunkStateRoot } from './chunk-state.js';
import { TAG_ENTRY_BYTES } from './sector-state.js';

/** A chunk of the tag file: `count` entries from `first`. */
export interface TagChunk {
  first: number;
  count: number;
}

interface Job {
  tagsPath: string;
  chunks: TagChunk[];
}

type Reply = { index: number; root: Uint8Array } | { error: string };

const FROM_SOURCE = import.meta.url.endsWith('.ts');

/** Built, the worker is plain JavaScript; run from source (tests, the demo), it loads through tsx. */
function startWorker(job: Job): Worker {
  const self = new URL(import.meta.url);
  if (!FROM_SOURCE) return new Worker(self, { workerData: job });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(self.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), { workerData: job });
}

export interface HashChunksOptions {
  /** Worker threads: one per core, at most four, unless told. */
  threads?: number;
  /** Ends the call early: the workers are stopped, and it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Hears each chunk's root as it is hashed, by its index in `chunks`. */
  onRoot?: (index: number, root: Buffer) => void;
}

/** The root of each chunk (chunk-state.ts: its tags and generation words), in the order given. */
export async function hashChunks(tagsPath: string, chunks: readonly TagChunk[], options: HashChunksOptions = {}): Promise<Buffer[]> {
  const { threads = Math.min(4, availableParallelism()), signal, onRoot } = options;
  signal?.throwIfAborted();
  const roots: Buffer[] = new Array(chunks.length);
  const count = Math.max(1, Math.min(threads, chunks.length));
  // Worker w takes chunks w, w + count, w + 2·count, …
  const shares = Array.from({ length: count }, (_, w) => chunks.filter((_, i) => i % count === w));
  await Promise.all(
    shares.map(
      (share, w) =>
        new Promise<void>((resolve, reject) => {
          const worker = startWorker({ tagsPath, chunks: share });
          let settled = false;
          const aborted = () => fail(signal!.reason as Error);
          const fail = (error: Error) => {
            if (settled) return;
            settled = true;
            signal?.removeEventListener('abort', aborted);
            void worker.terminate();
            reject(error);
          };
          signal?.addEventListener('abort', aborted, { once: true });
          worker.on('message', (reply: Reply) => {
            if ('error' in reply) return fail(new Error(`hashing the tag file: ${reply.error}`));
            const index = reply.index * count + w;
            roots[index] = Buffer.from(reply.root);
            onRoot?.(index, roots[index]);
            if (reply.index === share.length - 1) {
              settled = true;
              signal?.removeEventListener('abort', aborted);
              void worker.terminate();
              resolve();
            }
          });
          worker.on('error', fail);
          worker.on('exit', (code) => fail(new Error(`a tag-hashing worker exited (${code}) before its chunks were hashed`)));
        }),
    ),
  );
  return roots;
}

/** In the worker: read each chunk's entries, hash them, send the root. */
async function work({ tagsPath, chunks }: Job): Promise<void> {
  const engine = selectBlockCryptoEngine();
  const file = await open(tagsPath, 'r');
  try {
    const largest = Math.max(...chunks.map((c) => c.count));
    const entries = Buffer.alloc(largest * TAG_ENTRY_BYTES);
    for (const [index, { first, count }] of chunks.entries()) {
      const into = entries.subarray(0, count * TAG_ENTRY_BYTES);
      into.fill(0, (await readFully(file, first * TAG_ENTRY_BYTES, into.length, into)).length); // (zeros where the file is short, as SectorFiles reads it)
      parentPort!.postMessage({ index, root: chunkStateRoot(into, count, engine) } satisfies Reply);
    }
  } finally {
    await file.close();
  }
}

if (!isMainThread && parentPort && (workerData as Job | undefined)?.tagsPath) {
  work(workerData as Job).catch((error: unknown) => parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) } satisfies Reply));
}
