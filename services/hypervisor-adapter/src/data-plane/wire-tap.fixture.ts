// Test set-up: a TCP relay between the adapter and the service's data plane, standing where the
// provider's network does. It keeps every byte that crosses in each direction (to look for
// plaintext), and while `tamper` is set it flips the last byte of every large piece the service
// sends (the tail of a block answer's body; heads are far shorter), as someone on the path could.

import { once } from 'node:events';
import net from 'node:net';

export interface WireTap {
  /** The data plane's origin through the relay. */
  url: string;
  toService: Buffer[];
  toAdapter: Buffer[];
  /** While true, large pieces from the service arrive with their last byte flipped. */
  tamper: boolean;
  /** How many pieces were altered. */
  altered: number;
  close(): Promise<void>;
}

/** A piece at least this long from the service holds body bytes at its end. */
const LARGE = 2048;

export async function wireTap(target: string): Promise<WireTap> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const tap: WireTap = { url: '', toService: [], toAdapter: [], tamper: false, altered: 0, close: async () => undefined };
  const server = net.createServer((adapter) => {
    const service = net.connect({ host: hostname, port: Number(port) });
    for (const s of [adapter, service]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    adapter.on('data', (chunk: Buffer) => {
      tap.toService.push(Buffer.from(chunk));
      service.write(chunk);
    });
    service.on('data', (chunk: Buffer) => {
      tap.toAdapter.push(Buffer.from(chunk));
      if (tap.tamper && chunk.length >= LARGE) {
        chunk = Buffer.from(chunk);
        chunk[chunk.length - 1]! ^= 0x01;
        tap.altered++;
      }
      adapter.write(chunk);
    });
    adapter.on('close', () => service.destroy());
    service.on('close', () => adapter.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  tap.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  tap.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  };
  return tap;
}

/** Whether `needle` occurs anywhere in what crossed one way (pieces joined, so a split needle is found too). */
export const crossed = (pieces: Buffer[], needle: Buffer) => Buffer.concat(pieces).includes(needle);
