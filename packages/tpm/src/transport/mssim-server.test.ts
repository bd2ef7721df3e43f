// Many clients on one mssim server, each its own resource-manager context: a transient object
// is visible only to the connection that loaded it (another gets TPM_RC_HANDLE and does not see
// it in GetCapability), both keep working while interleaved, and a disconnect flushes what that
// connection left loaded — where the reference simulator and swtpm leak handles between tools.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tpm } from '../engine/tpm.js';
import { TpmClient } from '../client/client.js';
import { password } from '../client/auth.js';
import { storageKeyTemplate } from '../client/templates.js';
import { CreatePrimary } from '../commands/hierarchy/index.js';
import { ReadPublic } from '../commands/object/index.js';
import { GetCapability } from '../commands/capability/index.js';
import { Startup } from '../commands/startup/index.js';
import { GetRandom } from '../commands/random/index.js';
import { TPM_CAP, TPM_RC, TPM_RH, TPM_SU } from '../wire/constants.js';
import { baseRc } from '../wire/rc.js';
import { MssimServer } from './mssim-server.js';
import { MssimTransport } from './mssim-client.js';

async function transientHandles(c: TpmClient): Promise<number[]> {
  const r = await c.call(GetCapability, {}, { capability: TPM_CAP.HANDLES, property: 0x80000000, propertyCount: 64 });
  return r.capabilityData.data as number[];
}

test('each connection sees only its own transient objects, and a disconnect flushes them', async () => {
  const tpm = new Tpm();
  const server = new MssimServer({ tpm, port: 0 });
  await server.listen();
  const url = `mssim://127.0.0.1:${server.commandPort}`;
  const ta = await MssimTransport.connect(url, { platform: true });
  const tb = await MssimTransport.connect(url);
  try {
    const a = new TpmClient(ta);
    const b = new TpmClient(tb);
    await a.call(Startup, {}, { startupType: TPM_SU.CLEAR });
    const sensitive = { userAuth: Buffer.alloc(0), data: Buffer.alloc(0) };
    const { objectHandle } = await a.call(
      CreatePrimary,
      { primaryHandle: TPM_RH.OWNER },
      { inSensitive: sensitive, inPublic: storageKeyTemplate('eccP256'), outsideInfo: Buffer.alloc(0), creationPCR: [] },
      { auth: [password()] },
    );

    assert.ok((await a.call(ReadPublic, { objectHandle }, {})).name.length > 0);
    await assert.rejects(b.call(ReadPublic, { objectHandle }, {}), (e: { rc: number }) => baseRc(e.rc) === TPM_RC.HANDLE);
    assert.deepEqual(await transientHandles(a), [objectHandle]);
    assert.deepEqual(await transientHandles(b), []);

    // Interleaved traffic on both connections.
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).call(GetRandom, {}, { bytesRequested: 8 })));
    assert.ok(results.every((r) => r.randomBytes.length === 8));

    await ta.close();
    for (let i = 0; i < 500 && tpm.objects.has(objectHandle); i++) await new Promise((r) => setTimeout(r, 20)); // (up to 10 s: a loaded machine)
    assert.equal(tpm.objects.has(objectHandle), false, 'flushed when its connection closed');
    assert.deepEqual(await transientHandles(b), []);
  } finally {
    await tb.close();
    await server.close();
  }
});
