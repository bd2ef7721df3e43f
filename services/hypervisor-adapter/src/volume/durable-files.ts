// Small files of a volume's directory replaced or removed so that a crash leaves the old file or
// the new one, never part of either: written to a temporary file, fsynced, renamed over the old,
// and the directory fsynced, which makes the name's change durable too (volume.json, tags.roots).

import { open, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

async function syncDirectory(dir: string): Promise<void> {
  const directory = await open(dir, 'r');
  await directory.sync().finally(() => directory.close());
}

/** Writes `dir`/`name` durably with `data` (mode 0600). */
export async function writeDurably(dir: string, name: string, data: string | Uint8Array): Promise<void> {
  const target = path.join(dir, name);
  const temporary = `${target}.tmp`;
  await writeFile(temporary, data, { mode: 0o600 });
  const file = await open(temporary, 'r');
  await file.sync().finally(() => file.close());
  await rename(temporary, target);
  await syncDirectory(dir);
}

/** Removes `dir`/`name` durably; nothing to do if it is not there. */
export async function removeDurably(dir: string, name: string): Promise<void> {
  await rm(path.join(dir, name), { force: true });
  await syncDirectory(dir);
}
