// A queue of received bytes that a protocol reads in exact amounts as they arrive.

export class ByteQueue {
  private chunks: Buffer[] = [];
  private length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  get available(): number {
    return this.length;
  }

  peekU32(): number | undefined {
    if (this.length < 4) return undefined;
    return this.read(4, true).readUInt32BE(0);
  }

  /** Take `n` bytes (the caller checked `available`). */
  read(n: number, peek = false): Buffer {
    const joined = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = joined.subarray(0, n);
    if (!peek) {
      const rest = joined.subarray(n);
      this.chunks = rest.length ? [rest] : [];
      this.length = rest.length;
    } else {
      this.chunks = [joined];
    }
    return out;
  }
}
