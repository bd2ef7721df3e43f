#!/usr/bin/env node
// sealkeep-tpm: the emulated TPM 2.0 served over the TCG simulator (mssim) protocol.
//   sealkeep-tpm [--port 2321] [--host 127.0.0.1]
// Command port P, platform port P+1; drive it with TPM2TOOLS_TCTI=mssim:host=127.0.0.1,port=2321.

import { parseArgs } from 'node:util';
import { Tpm } from './engine/tpm.js';
import { MssimServer } from './transport/mssim-server.js';
import { quickAckAvailable } from './transport/quick-ack.js';

const usage = 'usage: sealkeep-tpm [--port 2321] [--host 127.0.0.1]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '2321' }, host: { type: 'string', default: '127.0.0.1' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65534) throw new Error(`--port must be 0–65534, got ${values.port}`);
  const tpm = new Tpm({ onInternalError: (e) => console.error('sealkeep-tpm: internal error:', e) });
  const server = new MssimServer({ tpm, port, host: values.host! });
  await server.listen();
  console.log(
    `sealkeep-tpm: command port ${server.commandPort}, platform port ${server.platformPort} on ${values.host}` +
      (quickAckAvailable() ? '' : ' (native addon missing: TCP_QUICKACK off)'),
  );
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: Error) => {
  console.error(`sealkeep-tpm: ${err.message}\n${usage}`);
  process.exit(2);
});
