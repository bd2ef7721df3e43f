// One TPM sequence at a time: a load, its use and its flush must not interleave with another
// request's, or the TPM's few object slots fill and handles cross. A failed task does not stop
// the queue.

export class WorkQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    this.#tail = result.catch(() => {});
    return result;
  }
}
