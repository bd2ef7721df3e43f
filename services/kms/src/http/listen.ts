// Listening for a plane's app: node:http's server, with upgrade requests (RFC 9110 §7.8) handed to
// the app like any other request, on a response that writes to the raw connection — so an upgrade
// route (the data plane's block stream) goes through the same pipeline as every route
// (authentication, authorization, validation, problems) before it takes the connection. A
// request that ends without switching protocols closes its connection. A client gets 20 s to send
// a request's head and 120 s for the whole request, body included, or its connection is closed
// (408): a caller that trickles bytes cannot hold a connection, or the body budget a large body
// holds, for Node's default five minutes. An upgraded connection is the route's from then on.
// Given a certificate and key, the listener speaks TLS instead (tls-credentials.ts), with the same
// upgrades and limits — the handshake too must be done within the 20 s a head gets; its
// certificate can be replaced while it listens (replaceTlsCredentials).

import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import { tlsContextOptions, type TlsCredentials } from './tls-credentials.js';

/** How long a request's head, and the whole request, may take to arrive; how often that is checked. Settable for tests (before serverFor). */
export const requestTimeouts = { headMs: 20_000, wholeMs: 120_000, checkEveryMs: 5_000 };

/** Requests that arrived as upgrades, with the bytes read past their head. */
const upgradeHeads = new WeakMap<IncomingMessage, Buffer>();

/** The bytes that came after an upgrade request's head, or undefined when the request is not an upgrade this listener handed on. */
export const upgradeHeadOf = (req: IncomingMessage): Buffer | undefined => upgradeHeads.get(req);

/**
 * An http.Server for `app` that also serves its upgrade routes (when it has any: mount.ts marks
 * it in `app.locals.upgrades`; without, node:http serves an upgrade request as an ordinary one,
 * ignoring the offer); call listen() on it.
 */
export function serverFor(app: Express, tls?: TlsCredentials): http.Server | https.Server {
  const limits = { headersTimeout: requestTimeouts.headMs, requestTimeout: requestTimeouts.wholeMs, connectionsCheckingInterval: requestTimeouts.checkEveryMs };
  const server = tls ? https.createServer({ ...limits, handshakeTimeout: requestTimeouts.headMs, ...tlsContextOptions(tls) }, app) : http.createServer(limits, app);
  if (app.locals.upgrades !== true) return server;
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgradeHeads.set(req, head);
    socket.on('error', () => socket.destroy());
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    res.once('finish', () => socket.end());
    app(req, res);
  });
  return server;
}

/** Serves new connections with another certificate and key (a renewal); connections already open keep theirs. */
export function replaceTlsCredentials(server: https.Server, tls: TlsCredentials): void {
  server.setSecureContext(tlsContextOptions(tls));
}
