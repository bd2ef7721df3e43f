// The NBD server on node:net, on TCP or a Unix socket: each connection runs the handshake
// (option-haggling.ts), then the transmission phase (transmission.ts) on the export it chose.
// Whatever a client sends, the worst that happens is that its own connection is closed: every
// failure of a connection is caught, logged and ends only that socket.

import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { ExportRegistry } from './export-registry.js';
import { haggleOptions } from './option-haggling.js';
import { ConnectionClosed, ProtocolError, SocketReader } from './socket-reader.js';
import { bindOwnerOnly, claimSocketPath } from './socket-file.js';
import { serveTransmission } from './transmission.js';

export interface NbdServerOptions {
  exports: ExportRegistry;
  log: Logger;
}

export class NbdServer {
  readonly #exports: ExportRegistry;
  readonly #log: Logger;
  readonly #server: Server;
  readonly #connections = new Set<Socket>();
  #nextConnection = 1;

  constructor({ exports, log }: NbdServerOptions) {
    this.#exports = exports;
    this.#log = log;
    // Paused on accept: the socket's reader takes it over before anything is read (socket-reader.ts).
    // Half-open: a client's FIN (as after NBD_CMD_DISC) must not end the replies still to come;
    // #serve ends the socket once every request is answered.
    this.#server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (accepted) => void this.#serve(SocketReader.forAccepted(accepted)));
  }

  /** Listens on TCP (port 0 picks a free one) and resolves with the bound address. */
  async listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    await this.#bound(() => this.#server.listen(port, host));
    return this.#server.address() as AddressInfo;
  }

  /**
   * Listens on a Unix socket at `path` that only this process's user may connect to (socket-file.ts);
   * closing the server removes it.
   */
  async listenOnSocket(path: string): Promise<void> {
    await claimSocketPath(path);
    await this.#bound(() => bindOwnerOnly(() => this.#server.listen(path)));
  }

  async #bound(listen: () => void): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.once('listening', () => {
        this.#server.off('error', reject);
        resolve();
      });
      listen();
    });
    this.#server.on('error', (err) => this.#log.error({ err }, 'NBD listener error'));
  }

  /** Stops accepting, closes every connection and resolves when the listener is closed. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#connections) socket.destroy();
    await closed;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  async #serve(reader: SocketReader): Promise<void> {
    const socket = reader.socket;
    const id = this.#nextConnection++;
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix socket';
    // Counted until the socket closes, not until #serve returns: an ended socket may still wait
    // for the client's FIN (never seen if its reader stopped reading), and close() must end it too.
    this.#connections.add(socket);
    socket.once('close', () => this.#connections.delete(socket));
    socket.setNoDelay(true);
    socket.on('error', () => {}); // reported through the reader; never an uncaught 'error' event
    try {
      const chosen = await haggleOptions(socket, reader, this.#exports);
      if (!chosen) {
        this.#log.debug({ connection: id, peer }, 'client aborted the handshake');
        return;
      }
      this.#log.info({ connection: id, peer, export: chosen.name }, 'NBD transmission started');
      await serveTransmission(socket, reader, chosen, this.#log);
      this.#log.info({ connection: id, export: chosen.name }, 'client disconnected');
    } catch (error) {
      if (error instanceof ConnectionClosed) this.#log.debug({ connection: id, peer }, 'connection closed by the peer');
      else if (error instanceof ProtocolError) this.#log.warn({ connection: id, peer, err: error }, 'protocol breach: connection closed');
      else this.#log.error({ connection: id, peer, err: error }, 'connection failed');
    } finally {
      // end() lets queued replies (the last option reply, the final read) reach the client first.
      if (!socket.destroyed) socket.end();
      socket.setTimeout(5000, () => socket.destroy());
    }
  }
}
