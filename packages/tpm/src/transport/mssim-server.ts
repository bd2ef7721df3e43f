// A TPM served over the mssim protocol, so tpm2-tools (TCTI `mssim:host=…,port=P`) and any
// other TSS drive it. Unlike the reference simulator it serves many clients at once: each
// command connection is its own resource-manager context, so the transient objects and sessions
// a client creates are visible only to it and are flushed when it disconnects.
//
// Each accepted socket has Nagle disabled and, where the platform supports it, ACKs at once
// (TCP_QUICKACK): tpm2-tss writes a command's 9-byte prefix and its body as two writes, and a
// delayed ACK of the first would hold the second back by tens of milliseconds.

import net from 'node:net';
import { once } from 'node:events';
import { ByteQueue } from './byte-queue.js';
import { MAX_COMMAND_SIZE, MSSIM } from './mssim-protocol.js';
import { quickAck } from './quick-ack.js';
import type { Tpm } from '../engine/tpm.js';

export interface MssimServerOptions {
  host?: string;
  /** Command port; the platform port is port + 1. 0 picks free ports (command port first). */
  port: number;
  /** The TPM to serve. */
  tpm: Tpm;
  /** Acknowledge received data at once (default true; false only to measure the difference). */
  quickAck?: boolean;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

let nextConnectionId = 1;

export class MssimServer {
  private command?: net.Server;
  private platform?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  commandPort = 0;
  platformPort = 0;

  constructor(private readonly opts: MssimServerOptions) {}

  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    // With port 0 the system picks P, but P+1 may be taken: close what did open and pick again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listenOnce(host);
      } catch (e) {
        await this.close();
        if (this.opts.port !== 0 || attempt >= 10 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      }
    }
  }

  private async listenOnce(host: string): Promise<void> {
    this.command = net.createServer((s) => this.serveCommands(s));
    this.platform = net.createServer((s) => this.servePlatform(s));
    this.command.listen(this.opts.port, host);
    await once(this.command, 'listening');
    this.commandPort = (this.command.address() as net.AddressInfo).port;
    this.platform.listen(this.commandPort + 1, host);
    await once(this.platform, 'listening');
    this.platformPort = this.commandPort + 1;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.command, this.platform].map((srv) => srv && new Promise((r) => srv.close(() => r(undefined)))));
  }

  private ack(socket: net.Socket): void {
    if (this.opts.quickAck !== false) quickAck(socket);
  }

  private track(socket: net.Socket): void {
    socket.setNoDelay(true);
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private serveCommands(socket: net.Socket): void {
    this.track(socket);
    const tpm = this.opts.tpm;
    const connection = nextConnectionId++;
    const q = new ByteQueue();
    socket.on('close', () => tpm.releaseConnection(connection));
    socket.on('data', (chunk) => {
      this.ack(socket);
      q.push(chunk);
      for (;;) {
        const code = q.peekU32();
        if (code === undefined) return;
        const need = this.commandLength(code, q);
        if (need === 'close') {
          socket.destroy();
          return;
        }
        if (need === undefined || q.available < need) return;
        const msg = q.read(need);
        const reply = this.onCommandMessage(code, msg, connection);
        if (reply === 'close') {
          socket.end();
          return;
        }
        socket.write(reply);
      }
    });
  }

  /** Total bytes of the next message, undefined until enough has arrived to know, or 'close'. */
  private commandLength(code: number, q: ByteQueue): number | undefined | 'close' {
    switch (code) {
      case MSSIM.SEND_COMMAND: {
        if (q.available < 9) return undefined;
        const n = q.read(9, true).readUInt32BE(5);
        return n > MAX_COMMAND_SIZE ? 'close' : 9 + n;
      }
      case MSSIM.HASH_DATA: {
        if (q.available < 8) return undefined;
        const n = q.read(8, true).readUInt32BE(4);
        return n > MAX_COMMAND_SIZE ? 'close' : 8 + n;
      }
      case MSSIM.REMOTE_HANDSHAKE:
        return 8;
      case MSSIM.HASH_START:
      case MSSIM.HASH_END:
      case MSSIM.SESSION_END:
      case MSSIM.STOP:
        return 4;
      default:
        return 'close';
    }
  }

  private onCommandMessage(code: number, msg: Buffer, connection: number): Buffer | 'close' {
    const tpm = this.opts.tpm;
    switch (code) {
      case MSSIM.SEND_COMMAND: {
        const locality = msg[4]!;
        if (!tpm.powered) return Buffer.concat([u32(0), u32(0)]);
        const resp = tpm.execute(msg.subarray(9), locality, connection);
        return Buffer.concat([u32(resp.length), resp, u32(0)]);
      }
      case MSSIM.HASH_START:
        tpm.hashStart();
        return u32(0);
      case MSSIM.HASH_DATA:
        tpm.hashData(msg.subarray(8));
        return u32(0);
      case MSSIM.HASH_END:
        tpm.hashEnd();
        return u32(0);
      case MSSIM.REMOTE_HANDSHAKE:
        // server version 1; endpoint flags: TPM, platform available.
        return Buffer.concat([u32(1), u32(0x3), u32(0)]);
      default: // SESSION_END, STOP: end this client's session (the server keeps serving others)
        return 'close';
    }
  }

  private servePlatform(socket: net.Socket): void {
    this.track(socket);
    const tpm = this.opts.tpm;
    const q = new ByteQueue();
    socket.on('data', (chunk) => {
      this.ack(socket);
      q.push(chunk);
      while (q.available >= 4) {
        const signal = q.read(4).readUInt32BE(0);
        switch (signal) {
          case MSSIM.SIGNAL_POWER_ON:
            tpm.powerOn();
            break;
          case MSSIM.SIGNAL_POWER_OFF:
            tpm.powerOff();
            break;
          case MSSIM.SIGNAL_RESET:
          case MSSIM.SIGNAL_RESTART:
            tpm.init();
            break;
          case MSSIM.SIGNAL_PHYS_PRES_ON:
          case MSSIM.SIGNAL_PHYS_PRES_OFF:
          case MSSIM.SIGNAL_CANCEL_ON:
          case MSSIM.SIGNAL_CANCEL_OFF:
          case MSSIM.SIGNAL_NV_ON:
          case MSSIM.SIGNAL_NV_OFF:
          case MSSIM.SIGNAL_KEY_CACHE_ON:
          case MSSIM.SIGNAL_KEY_CACHE_OFF:
          case MSSIM.TEST_FAILURE_MODE:
            break;
          case MSSIM.GET_COMMAND_RESPONSE_SIZES:
            socket.write(Buffer.concat([u32(MAX_COMMAND_SIZE), u32(MAX_COMMAND_SIZE)]));
            break;
          case MSSIM.SESSION_END:
          case MSSIM.STOP:
            socket.end();
            return;
          default:
            socket.end(u32(1));
            return;
        }
        socket.write(u32(0));
      }
    });
  }
}
