// Test support: swtpm (the libtpms-based reference) on a free port pair, started and answering
// before the test goes on (up to 10 s: a loaded CI machine has needed more than 5). A port pair
// taken in the meantime (the control port, P + 1, is never reserved) is retried on another.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

async function portFree(port: number): Promise<boolean> {
  const srv = net.createServer();
  return new Promise((resolve) => {
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function freePortPair(): Promise<number> {
  for (;;) {
    const srv = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    if (port < 65000 && (await portFree(port + 1))) return port;
  }
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export interface Swtpm {
  port: number;
  /** TCTI for tpm2-tools: `swtpm:host=127.0.0.1,port=P`. */
  tcti: string;
  stop(): Promise<void>;
}

export async function startSwtpm(): Promise<Swtpm> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-swtpm-'));
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePortPair();
    const child: ChildProcess = spawn(
      'swtpm',
      ['socket', '--tpm2', '--server', `type=tcp,port=${port}`, '--ctrl', `type=tcp,port=${port + 1}`, '--tpmstate', `dir=${dir}`, '--flags', 'not-need-init,startup-clear'],
      { stdio: 'ignore' },
    );
    let exited = false;
    child.once('exit', () => (exited = true));
    for (let i = 0; i < 200 && !exited; i++) {
      if (await answers(port)) {
        return {
          port,
          tcti: `swtpm:host=127.0.0.1,port=${port}`,
          stop: async () => {
            if (!exited) {
              const gone = new Promise((r) => child.once('exit', r));
              child.kill();
              await gone;
            }
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill();
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('swtpm did not start on any of 5 port pairs');
}
