// A TPM served over the mssim protocol, so tpm2-tools (TCTI `mssim:host=…,port=P`) and any
// other TSS drive it. Unlike the reference simulator it serves many clients at once: each
// command connection is its own resource-manager context, so the transient objects and sessions
// a client creates are visible only to it and are flushed when it disconnects.
//
// Each accepted socket has Nagle disabled and, where the platform supports it, ACKs at once
// (TCP_QUICKACK): tpm2-tss writes a command's 9-byte prefix and its body as two writes, and a
// delayed ACK of the first would hold the second back by tens of milliseconds.
//
// A server serves one TPM, or resolves the TPM of each new connection (`target`): a TpmManager
// serves each of its instances on its own port pair that way, loading a suspended one on demand,
// and says which localities and whether the DRTM signals its platform offers.

import net from 'node:net';
import { once } from 'node:events';
import { ByteQueue } from './byte-queue.js';
import { MAX_COMMAND_SIZE, MSSIM } from './mssim-protocol.js';
import { quickAck } from './quick-ack.js';
import { TPM_RC, TPM_ST } from '../wire/constants.js';
import type { Tpm } from '../engine/tpm.js';

/** What a connection talks to: a TPM, and what its platform lets a client do with it. */
export interface MssimTarget {
  tpm: Tpm;
  /** The highest locality a command may be sent at (default: any); above it the answer is TPM_RC_LOCALITY. */
  maxLocality?: number;
  /** _TPM_Hash_Start/Data/End are accepted (default true); otherwise they are ignored and answered 1. */
  drtm?: boolean;
  /**
   * Resolves once every state change so far is on disk (a persistent TPM's flush). Awaited before
   * each reply, so a client never sees an NV write, key eviction or counter step acknowledged
   * that a power loss could still undo.
   */
  durable?: () => Promise<void>;
}

interface MssimServerCommonOptions {
  host?: string;
  /** Command port; the platform port is port + 1. 0 picks free ports (command port first). */
  port: number;
  /** Acknowledge received data at once (default true; false only to measure the difference). */
  quickAck?: boolean;
}

export type MssimServerOptions = MssimServerCommonOptions &
  (
    | {
        /** The TPM to serve. */
        tpm: Tpm;
        /** See MssimTarget.durable. */
        durable?: () => Promise<void>;
      }
    | {
        /** Resolves the target of each new connection, e.g. a managed instance loaded on demand. */
        target: () => MssimTarget | Promise<MssimTarget>;
      }
  );

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A response carrying only a response code. */
function rcResponse(rc: number): Buffer {
  const b = Buffer.alloc(10);
  b.writeUInt16BE(TPM_ST.NO_SESSIONS, 0);
  b.writeUInt32BE(10, 2);
  b.writeUInt32BE(rc, 6);
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
    this.command = net.createServer((s) => this.withTarget(s, (t) => this.serveCommands(s, t)));
    this.platform = net.createServer((s) => this.withTarget(s, (t) => this.servePlatform(s, t)));
    this.command.listen(this.opts.port, host);
    await once(this.command, 'listening');
    this.commandPort = (this.command.address() as net.AddressInfo).port;
    this.platform.listen(this.commandPort + 1, host);
    await once(this.platform, 'listening');
    this.platformPort = this.commandPort + 1;
  }

  async close(): Promise<void> {
    this.closeConnections();
    await Promise.all([this.command, this.platform].map((srv) => srv && new Promise((r) => srv.close(() => r(undefined)))));
  }

  /** End every open connection; the server keeps listening (the next client resolves its target anew). */
  closeConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  /** Resolve the connection's target, then hand it the socket's data (held back until then). */
  private withTarget(socket: net.Socket, serve: (target: MssimTarget) => void): void {
    this.track(socket);
    const o = this.opts;
    if ('tpm' in o) return serve({ tpm: o.tpm, ...(o.durable ? { durable: o.durable } : {}) });
    socket.pause();
    Promise.resolve()
      .then(() => o.target())
      .then(
        (target) => {
          if (socket.destroyed) return;
          serve(target);
          socket.resume();
        },
        () => socket.destroy(),
      );
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

  private serveCommands(socket: net.Socket, target: MssimTarget): void {
    const tpm = target.tpm;
    const connection = nextConnectionId++;
    const q = new ByteQueue();
    socket.on('close', () => tpm.releaseConnection(connection));
    // Messages are answered one at a time, in order; a reply waits until its effects are durable.
    let draining = false;
    const drain = async (): Promise<void> => {
      if (draining) return;
      draining = true;
      try {
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
          const reply = this.onCommandMessage(target, code, msg, connection);
          if (reply === 'close') {
            socket.end();
            return;
          }
          if (target.durable) await target.durable();
          if (socket.destroyed) return;
          socket.write(reply);
        }
      } catch {
        socket.destroy(); // the state could not be made durable: the client must not take silence for success
      } finally {
        draining = false;
      }
    };
    socket.on('data', (chunk) => {
      this.ack(socket);
      q.push(chunk);
      void drain();
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

  private onCommandMessage(target: MssimTarget, code: number, msg: Buffer, connection: number): Buffer | 'close' {
    const tpm = target.tpm;
    const drtmRefused = target.drtm === false && (code === MSSIM.HASH_START || code === MSSIM.HASH_DATA || code === MSSIM.HASH_END);
    if (drtmRefused) return u32(1);
    switch (code) {
      case MSSIM.SEND_COMMAND: {
        const locality = msg[4]!;
        if (!tpm.powered) return Buffer.concat([u32(0), u32(0)]);
        const refused = target.maxLocality !== undefined && locality > target.maxLocality;
        const resp = refused ? rcResponse(TPM_RC.LOCALITY) : tpm.execute(msg.subarray(9), locality, connection);
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

  private servePlatform(socket: net.Socket, target: MssimTarget): void {
    const tpm = target.tpm;
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
