// The export format: JSON Lines (https://jsonlines.org), one entry or checkpoint per line, in the
// order the service wrote them (entries by seq, each checkpoint after the entry it covers).
// A line is an entry unless its `kind` is 'checkpoint'. Lines are written with canonicalize(), so
// an exported entry is byte-for-byte the text its hash was computed over plus its `hash` member.
//
// Parsing is streaming and never throws on content: every line comes back numbered (1-based,
// counting blank lines, which are otherwise skipped) as an item with its shape problems, or as
// malformed with the reason. Whether items are true to the chain is verify.ts's question.

import { canonicalize } from './canonical.js';
import { checkCheckpointShape, type Checkpoint } from './checkpoint.js';
import { checkEntryShape, type AuditEntry } from './entry.js';

export type AuditItem = AuditEntry | Checkpoint;

export type ParsedLine =
  | { line: number; kind: 'entry'; item: AuditEntry; problems: string[] }
  | { line: number; kind: 'checkpoint'; item: Checkpoint; problems: string[] }
  | { line: number; kind: 'malformed'; reason: string; text: string };

/** Longest line accepted; an entry is a few hundred bytes, a checkpoint with an RSA AK about 1 KiB. */
export const MAX_LINE_LENGTH = 64 * 1024;

export const isCheckpoint = (item: AuditItem): item is Checkpoint => (item as Checkpoint).kind === 'checkpoint';

/** The JSON Lines text of `items`, newline-terminated. */
export function toJsonLines(items: Iterable<AuditItem>): string {
  let out = '';
  for (const item of items) out += canonicalize(item) + '\n';
  return out;
}

/** One line of an export, parsed. `line` is its 1-based number, for findings. */
export function parseAuditLine(text: string, line: number): ParsedLine {
  const malformed = (reason: string): ParsedLine => ({ line, kind: 'malformed', reason, text: text.slice(0, 200) });
  if (text.length > MAX_LINE_LENGTH) return malformed(`line is ${text.length} characters, over ${MAX_LINE_LENGTH}`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return malformed(`not JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return malformed('not a JSON object');
  const record = value as Record<string, unknown>;
  if (record.kind === 'checkpoint') {
    return { line, kind: 'checkpoint', item: record as unknown as Checkpoint, problems: checkCheckpointShape(record) };
  }
  if (record.kind !== undefined) return malformed(`unknown kind ${JSON.stringify(record.kind)}`);
  return { line, kind: 'entry', item: record as unknown as AuditEntry, problems: checkEntryShape(record) };
}

/**
 * Parse an export: the whole text, or its lines one per element (as readline yields them; an
 * element holding newlines is split further). Blank lines are counted and skipped.
 */
export function* parseJsonLines(source: string | Iterable<string>): Generator<ParsedLine> {
  let n = 0;
  const elements = typeof source === 'string' ? [source] : source;
  for (const element of elements) {
    const parts = element.split('\n');
    if (typeof source === 'string' && parts.at(-1) === '') parts.pop();
    for (const raw of parts) {
      n++;
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (text.trim() !== '') yield parseAuditLine(text, n);
    }
  }
}

/** Parse an export arriving in arbitrary chunks (a file or HTTP stream); UTF-8 split across chunks is fine. */
export async function* parseJsonLinesAsync(chunks: AsyncIterable<string | Uint8Array>): AsyncGenerator<ParsedLine> {
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  let n = 0;
  let skipping = false; // inside an over-long line already reported: drop text up to its newline
  const emit = (raw: string): ParsedLine | null => {
    n++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    return text.trim() === '' ? null : parseAuditLine(text, n);
  };
  for await (const chunk of chunks) {
    carry += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = carry.indexOf('\n')) >= 0) {
      const raw = carry.slice(0, nl);
      carry = carry.slice(nl + 1);
      if (skipping) skipping = false;
      else {
        const parsed = emit(raw);
        if (parsed) yield parsed;
      }
    }
    if (carry.length > MAX_LINE_LENGTH && !skipping) {
      const parsed = emit(carry); // reported as over-long, without buffering the rest of it
      if (parsed) yield parsed;
      skipping = true;
    }
    if (skipping) carry = '';
  }
  carry += decoder.decode();
  if (carry !== '' && !skipping) {
    const parsed = emit(carry);
    if (parsed) yield parsed;
  }
}
