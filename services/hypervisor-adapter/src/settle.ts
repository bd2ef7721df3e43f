// Operations run side by side that must all have ended before their caller goes on (buffers they
// share go back to a pool, files close, a volume's state is recorded): wait for every one, then
// fail with the first failure, if any.

/** Waits for every promise; then rejects with the first failure, if any (none is left running behind it). */
export async function allOrFirstFailure(runs: Iterable<Promise<unknown>>): Promise<void> {
  const failed = (await Promise.allSettled(runs)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
