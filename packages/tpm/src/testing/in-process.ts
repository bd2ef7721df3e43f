// Test support: a started TPM in this process with a typed client, and the response code a
// call failed with. Internal errors (bugs) are collected so a test can assert there were none.

import { TpmClient } from '../client/client.js';
import { InProcessTransport } from '../client/transport.js';
import { Startup } from '../commands/startup/index.js';
import { Tpm } from '../engine/tpm.js';
import { TPM_SU } from '../wire/constants.js';

export async function startedTpm(): Promise<{ tpm: Tpm; client: TpmClient; internalErrors: unknown[] }> {
  const internalErrors: unknown[] = [];
  const tpm = new Tpm({ onInternalError: (e) => internalErrors.push(e) });
  const client = new TpmClient(new InProcessTransport(tpm, 0));
  await client.call(Startup, {}, { startupType: TPM_SU.CLEAR });
  return { tpm, client, internalErrors };
}

/** The response code a call failed with (0 when it succeeded); other errors are rethrown. */
export async function rcOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    const rc = (e as { rc?: number }).rc;
    if (rc === undefined) throw e;
    return rc;
  }
}
