// The listeners' certificate over the service's life. At start: what is served (names, issuer,
// fingerprint, end of validity) is logged, with a warning when it ends within RENEW_WITHIN_DAYS or
// its key file is open to others. On SIGHUP (from the moment the configuration is read, so a
// signal during the start does not end the process): the pair is read again, and served to new
// connections only if it loads, is in its validity period and claims the identity the service
// started with (the measured one); otherwise why is logged and the listeners keep what they have.
// Failed handshakes (a client speaking plain HTTP, or not trusting the certificate) are logged at
// debug level.

import type { Server } from 'node:https';
import type { Logger } from 'pino';
import { readTlsCredentials, sameIdentity, type TlsCredentials, type TlsFiles, type TlsIdentity } from './tls-credentials.js';
import { replaceTlsCredentials } from './listen.js';

/** How close to its end a certificate is warned of. */
const RENEW_WITHIN_DAYS = 14;

export class TlsListeners {
  /** The files, and the identity their certificate claimed at start (the measured one). */
  readonly #files: TlsFiles & { identity: TlsIdentity };
  readonly #log: Logger;
  readonly #servers: Server[] = [];
  #current: TlsCredentials;

  /** `files.credentials`: the pair as the configuration read it at start. */
  constructor(files: TlsFiles & { identity: TlsIdentity; credentials: TlsCredentials }, log: Logger) {
    this.#files = files;
    this.#log = log;
    this.#current = files.credentials;
    this.#report('TLS certificate served', this.#current);
    process.on('SIGHUP', () => this.renew());
  }

  /** What a listener made now serves. */
  get credentials(): TlsCredentials {
    return this.#current;
  }

  /** A listener made with `credentials`, from now on renewed with the others. */
  attach(server: Server): void {
    this.#servers.push(server);
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: { remoteAddress?: string }) => this.#log.debug({ reason: err.code ?? err.message, remoteAddress: socket.remoteAddress }, 'TLS handshake failed'));
  }

  /** Reads the pair again; serves it to new connections when it may be (see the header). */
  renew(): void {
    let renewed: TlsCredentials;
    try {
      renewed = readTlsCredentials(this.#files);
    } catch (err) {
      return void this.#log.error({ err }, 'SIGHUP: the TLS certificate could not be read again; the listeners keep the one they have');
    }
    if (!sameIdentity(renewed.identity, this.#files.identity)) {
      return void this.#log.error({ measured: this.#files.identity, renewal: renewed.identity }, 'SIGHUP: the renewed TLS certificate claims another identity than the measured one (names or issuer); the listeners keep the one they have — another identity is a configuration change, to approve and start with');
    }
    if (renewed.fingerprint === this.#current.fingerprint) this.#log.warn({ fingerprint: renewed.fingerprint }, 'SIGHUP: the TLS certificate is the one already served (was the renewal copied in?)');
    for (const server of this.#servers) replaceTlsCredentials(server, renewed);
    this.#current = renewed;
    this.#report('SIGHUP: TLS certificate read again; new connections get it', renewed);
  }

  #report(message: string, served: TlsCredentials): void {
    this.#log.info({ certFile: this.#files.certFile, ...served.identity, fingerprint: served.fingerprint, validTo: served.validTo.toISOString() }, message);
    const daysLeft = (served.validTo.getTime() - Date.now()) / 86_400_000;
    if (daysLeft < RENEW_WITHIN_DAYS) this.#log.warn({ validTo: served.validTo.toISOString(), daysLeft: Math.floor(daysLeft) }, 'the TLS certificate ends soon: renew it and send SIGHUP');
    if (served.keyReadableByOthers) this.#log.warn({ keyFile: this.#files.keyFile }, 'the TLS key file can be read by others than its owner');
  }
}
