// Test support: render a page in headless Chromium (Debian package `chromium`) — a screenshot
// and the DOM it built — and read the screenshot's pixels back (PNG: 8-bit RGB or RGBA, not
// interlaced, which is what Chromium writes), so a test can tell a rendered report from a blank
// or broken page. Tests skip when Chromium is not installed.

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { inflateSync } from 'node:zlib';

const run = promisify(execFile);

export const haveChromium = await run('chromium', ['--version']).then(
  () => true,
  () => false,
);

/** Run Chromium headless on a local file with a throw-away profile; stdout. */
async function chromium(file: string, args: string[]): Promise<string> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'sealkeep-chromium-'));
  try {
    const r = await run('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, ...args, pathToFileURL(file).href], {
      timeout: 90_000,
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    });
    return r.stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

export const screenshot = (file: string, png: string, width = 1280, height = 2000) => chromium(file, [`--screenshot=${png}`, `--window-size=${width},${height}`, '--hide-scrollbars']);
export const dumpDom = (file: string) => chromium(file, ['--dump-dom']);

export interface Image {
  width: number;
  height: number;
  /** RGB of pixel (x, y). */
  rgb(x: number, y: number): [number, number, number];
}

/** Decode a non-interlaced 8-bit RGB(A) PNG. */
export function readPng(file: string): Image {
  const png = readFileSync(file);
  if (!png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) throw new Error('not a PNG');
  let width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString('latin1', at + 4, at + 8);
    const data = png.subarray(at + 8, at + 8 + length);
    if (type === 'IHDR') {
      [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
      const [depth, colour, interlace] = [data[8], data[9], data[12]];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0) throw new Error(`unsupported PNG: depth ${depth}, colour type ${colour}, interlace ${interlace}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? pixels[y * stride + i - channels]! : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + i]! : 0;
      const upLeft = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels]! : 0;
      const p = left + up - upLeft;
      const paeth = Math.abs(p - left) <= Math.abs(p - up) && Math.abs(p - left) <= Math.abs(p - upLeft) ? left : Math.abs(p - up) <= Math.abs(p - upLeft) ? up : upLeft;
      const predictor = [0, left, up, (left + up) >> 1, paeth][filter]!;
      pixels[y * stride + i] = (line[i]! + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    rgb: (x, y) => {
      const at = y * stride + x * channels;
      return [pixels[at]!, pixels[at + 1]!, pixels[at + 2]!];
    },
  };
}
