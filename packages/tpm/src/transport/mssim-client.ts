// A Transport to a TPM over the mssim protocol: this package's server, the reference simulator,
// or swtpm (whose data port also accepts the TPM_SEND_COMMAND framing). Commands go out one at a
// time — concurrent callers are queued in order — each as a single write with Nagle off; the
// platform port is optional (swtpm's control port speaks another protocol).

import net from 'node:net';
import { once } from 'node:events';
import { ByteQueue } from './byte-queue.js';
import { MSSIM } from './mssim-protocol.js';
import type { Transport } from '../client/transport.js';

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** Parse `mssim://host:port` (or `host:port`). */
export function parseMssimUrl(url: string): { host: string; port: number } {
  const m = /^(?:mssim:\/\/)?\[?([^\]]+?)\]?:(\d+)$/.exec(url.trim());
  if (!m) throw new Error(`expected mssim://host:port, got "${url}"`);
  const port = Number(m[2]);
  if (port < 1 || port > 65534) throw new Error(`port out of range in "${url}"`);
  return { host: m[1]!, port };
}

class Connection {
  private readonly q = new ByteQueue();
  private waiter: { need: () => number | undefined; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  private failed: Error | null = null;

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (c) => {
      this.q.push(c);
      this.pump();
    });
    const fail = (e: Error) => {
      this.failed = e;
      this.waiter?.reject(e);
      this.waiter = null;
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('TPM connection closed')));
  }

  static async open(host: string, port: number): Promise<Connection> {
    const s = net.connect({ host, port });
    await Promise.race([once(s, 'connect'), once(s, 'error').then(([e]) => Promise.reject(e))]);
    return new Connection(s);
  }

  private pump(): void {
    if (!this.waiter) return;
    const n = this.waiter.need();
    if (n === undefined || this.q.available < n) return;
    const w = this.waiter;
    this.waiter = null;
    w.resolve(this.q.read(n));
  }

  /** Write `msg`, then read a reply whose length `need` works out from what has arrived. */
  exchange(msg: Buffer, need: (q: ByteQueue) => number | undefined): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    if (this.waiter) return Promise.reject(new Error('one command at a time per connection'));
    return new Promise((resolve, reject) => {
      this.waiter = { need: () => need(this.q), resolve, reject };
      this.socket.write(msg);
      this.pump();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

export class MssimTransport implements Transport {
  private constructor(
    private readonly command: Connection,
    private readonly platform: Connection | null,
    public locality: number,
  ) {}

  /** Connect to the command port; `platform: true` also opens port+1 and powers the TPM on. */
  static async connect(url: string, opts: { platform?: boolean; locality?: number } = {}): Promise<MssimTransport> {
    const { host, port } = parseMssimUrl(url);
    const command = await Connection.open(host, port);
    const platform = opts.platform ? await Connection.open(host, port + 1) : null;
    const t = new MssimTransport(command, platform, opts.locality ?? 0);
    if (platform) {
      await t.signal(MSSIM.SIGNAL_POWER_ON);
      await t.signal(MSSIM.SIGNAL_NV_ON);
    }
    return t;
  }

  /** Commands from concurrent callers go out one at a time, in the order they were sent. */
  private queue: Promise<unknown> = Promise.resolve();

  send(cmd: Uint8Array): Promise<Buffer> {
    const next = this.queue.then(() => this.exchangeCommand(cmd));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async exchangeCommand(cmd: Uint8Array): Promise<Buffer> {
    const header = Buffer.alloc(9);
    header.writeUInt32BE(MSSIM.SEND_COMMAND, 0);
    header.writeUInt8(this.locality, 4);
    header.writeUInt32BE(cmd.length, 5);
    const reply = await this.command.exchange(Buffer.concat([header, cmd]), (q) => {
      const n = q.peekU32();
      return n === undefined ? undefined : 4 + n + 4;
    });
    const n = reply.readUInt32BE(0);
    if (n === 0) throw new Error('the TPM is powered off');
    return Buffer.from(reply.subarray(4, 4 + n));
  }

  /** A platform signal (power, NV, reset …); requires `platform: true`. */
  async signal(code: number): Promise<void> {
    if (!this.platform) throw new Error('no platform connection');
    const r = await this.platform.exchange(u32(code), () => 4);
    if (r.readUInt32BE(0) !== 0) throw new Error(`platform signal ${code} refused`);
  }

  /** The DRTM sequence _TPM_Hash_Start/Data/End, sent on the command port. */
  async dynamicLaunch(data: Buffer): Promise<void> {
    await this.command.exchange(u32(MSSIM.HASH_START), () => 4);
    await this.command.exchange(Buffer.concat([u32(MSSIM.HASH_DATA), u32(data.length), data]), () => 4);
    await this.command.exchange(u32(MSSIM.HASH_END), () => 4);
  }

  async close(): Promise<void> {
    this.command.close();
    this.platform?.close();
  }
}
