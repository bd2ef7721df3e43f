// The offline verifier: reads an exported log (entries and checkpoints, JSON Lines) and reports
// every finding, never stopping at the first. Each entry is checked as it streams past (its own
// hash, its shape, secrets, its order in the file); the chain is then walked in seq order from a
// compact record per entry (seq, line, hashes), and each checkpoint is checked against it.
//
// How each kind of tampering is named:
//   stored hash ≠ SHA-256(canonical(entry))        → audit.entry.altered at that seq
//   seq N+k follows N (k > 1)                      → audit.entry.missing N+1…N+k-1 (no link check there)
//   a checkpoint covers seq > the last entry       → audit.entry.missing (the truncated tail)
//   seq lower than the entry on the line before    → audit.entry.reordered at that seq
//   two lines with one seq                         → audit.entry.duplicate (warning if identical)
//   own hash consistent, prevHash ≠ predecessor's  → audit.chain.broken at that seq — a replaced
//     stored hash (or, for seq 1, ≠ 64 zeros)        and re-hashed predecessor, or a spliced row
// Links are checked against the predecessor's *stored* hash, so an altered entry whose hash was
// left alone shows once (altered), and one whose hash was recomputed shows as the broken link after it.
// Checkpoints: signature (and signedDigest) → .signature; key not in trustedAkPublicKeysPem →
// .untrusted-key; headHash ≠ stored hash at seq → .head-mismatch; TPM resetCount, clock, or
// restartCount within one resetCount lower than at a lower-seq checkpoint → .clock-regressed.

import type { KeyObject } from 'node:crypto';
import { CanonicalError } from './canonical.js';
import { akKeyFingerprint, parseAkKey, verifyCheckpoint, type Checkpoint } from './checkpoint.js';
import { entryHash, findSecrets, GENESIS_HASH } from './entry.js';
import { parseJsonLines, parseJsonLinesAsync, type ParsedLine } from './export.js';
import type { AuditCounts, AuditFinding, AuditReport } from './report.js';

export interface VerifyOptions {
  /** PEM SPKI of the AKs whose checkpoints are trusted; without it a checkpoint's own key is used */
  trustedAkPublicKeysPem?: string[];
  /** findings listed at most (the rest are counted); default 10,000 */
  maxFindings?: number;
}

interface EntryRecord { seq: number; line: number; stored: string; prevHash: string; consistent: boolean }
interface CheckpointRecord { cp: Checkpoint; line: number; signed: boolean; trusted: boolean }

/** Findings that name a bad entry, for firstBadSeq. */
const ENTRY_IDS = new Set(['audit.entry.altered', 'audit.entry.missing', 'audit.entry.reordered', 'audit.entry.duplicate', 'audit.chain.broken']);
const short = (h: string) => (h.length > 16 ? `${h.slice(0, 16)}…` : h);

/** Verify a whole export: its text, or its lines one per element. */
export function verifyAuditLog(lines: Iterable<string> | string, opts: VerifyOptions = {}): AuditReport {
  const v = new AuditVerifier(opts);
  for (const parsed of parseJsonLines(lines)) v.push(parsed);
  return v.finish();
}

/** Verify an export arriving as chunks (e.g. fs.createReadStream), without holding its text. */
export async function verifyAuditLogAsync(chunks: AsyncIterable<string | Uint8Array>, opts: VerifyOptions = {}): Promise<AuditReport> {
  const v = new AuditVerifier(opts);
  for await (const parsed of parseJsonLinesAsync(chunks)) v.push(parsed);
  return v.finish();
}

/** Incremental verifier: push() parsed lines in file order, then finish() once. */
export class AuditVerifier {
  private readonly findings: AuditFinding[] = [];
  private omitted = 0;
  private readonly entries: EntryRecord[] = [];
  private readonly checkpoints: CheckpointRecord[] = [];
  private readonly keys = new Map<string, KeyObject | string>();
  private readonly akKeys = new Map<string, { trusted: boolean | null; checkpoints: number }>();
  private readonly trusted: Set<string> | null;
  private readonly maxFindings: number;
  private previousSeq: number | null = null;
  private lastLine = 0;

  constructor(opts: VerifyOptions = {}) {
    this.trusted = opts.trustedAkPublicKeysPem ? new Set(opts.trustedAkPublicKeysPem.map((pem) => akKeyFingerprint(pem))) : null;
    this.maxFindings = opts.maxFindings ?? 10_000;
  }

  push(parsed: ParsedLine): void {
    this.lastLine = Math.max(this.lastLine, parsed.line);
    if (parsed.kind === 'malformed') {
      this.add({ id: 'audit.line.malformed', severity: 'high', line: parsed.line, message: parsed.reason });
    } else if (parsed.kind === 'checkpoint') {
      this.pushCheckpoint(parsed.item, parsed.line, parsed.problems);
    } else {
      this.pushEntry(parsed.item as unknown as Record<string, unknown>, parsed.line, parsed.problems);
    }
  }

  private pushEntry(e: Record<string, unknown>, line: number, problems: string[]): void {
    const seq = e.seq;
    if (!Number.isSafeInteger(seq) || (seq as number) < 1) {
      this.add({ id: 'audit.line.malformed', severity: 'high', line, message: `entry without a usable seq: ${problems.join('; ')}` });
      return;
    }
    const n = seq as number;
    const stored = typeof e.hash === 'string' ? e.hash : '';
    let recomputed: string;
    try {
      recomputed = entryHash(e as never);
    } catch (err) {
      if (!(err instanceof CanonicalError)) throw err;
      recomputed = `(no canonical form: ${err.message})`;
    }
    const consistent = stored === recomputed;
    if (!consistent) {
      const shape = problems.length > 0 ? `; it is also malformed: ${problems.join('; ')}` : '';
      this.add({ id: 'audit.entry.altered', severity: 'critical', seq: n, line, expected: recomputed, found: stored || '(none)', message: `entry ${n}'s content does not match its stored hash${shape}` });
    } else if (problems.length > 0) {
      this.add({ id: 'audit.line.malformed', severity: 'high', seq: n, line, message: `entry ${n} is hashed consistently but malformed: ${problems.join('; ')}` });
    }
    for (const s of findSecrets(e.details)) {
      this.add({ id: 'audit.entry.secret', severity: 'critical', seq: n, line, message: `entry ${n} may hold a secret: ${s}` });
    }
    if (this.previousSeq !== null && n < this.previousSeq) {
      this.add({ id: 'audit.entry.reordered', severity: 'high', seq: n, line, expected: `seq > ${this.previousSeq}`, found: String(n), message: `entry ${n} comes after entry ${this.previousSeq} in the export` });
    }
    this.previousSeq = n;
    this.entries.push({ seq: n, line, stored, prevHash: typeof e.prevHash === 'string' ? e.prevHash : '', consistent });
  }

  private pushCheckpoint(cp: Checkpoint, line: number, problems: string[]): void {
    if (problems.length > 0) {
      const seq = Number.isSafeInteger(cp.seq) ? { seq: cp.seq } : {};
      this.add({ id: 'audit.line.malformed', severity: 'high', ...seq, line, message: `checkpoint is malformed: ${problems.join('; ')}` });
      return;
    }
    const cacheKey = `${cp.signature.alg}\n${cp.akPublicKeyPem}`;
    let key = this.keys.get(cacheKey);
    if (key === undefined) this.keys.set(cacheKey, (key = parseAkKey(cp.akPublicKeyPem, cp.signature.alg)));
    const check = verifyCheckpoint(cp, typeof key === 'string' ? undefined : key);
    let trusted = true;
    if (typeof key !== 'string') {
      const fingerprint = akKeyFingerprint(key);
      trusted = this.trusted === null || this.trusted.has(fingerprint);
      const seen = this.akKeys.get(fingerprint) ?? { trusted: this.trusted === null ? null : trusted, checkpoints: 0 };
      seen.checkpoints++;
      this.akKeys.set(fingerprint, seen);
      if (!trusted) {
        this.add({ id: 'audit.checkpoint.untrusted-key', severity: 'critical', seq: cp.seq, line, found: `sha256:${fingerprint}`, message: `checkpoint at seq ${cp.seq} is signed by an AK that is not among the trusted keys` });
      }
    }
    if (!check.ok) {
      this.add({ id: 'audit.checkpoint.signature', severity: 'critical', seq: cp.seq, line, message: `checkpoint at seq ${cp.seq}: ${check.reason}` });
    }
    this.checkpoints.push({ cp, line, signed: check.ok, trusted });
  }

  finish(): AuditReport {
    const hashes = this.walkChain();
    let lastSeq: number | null = null;
    for (const seq of hashes.keys()) lastSeq = seq; // ascending
    let lastCheckpointedSeq: number | null = null;
    let beyondEnd: CheckpointRecord | null = null;
    for (const r of this.checkpoints) {
      if (!r.signed) continue;
      if (r.cp.seq > (lastSeq ?? 0)) {
        if (r.cp.seq > (beyondEnd?.cp.seq ?? 0)) beyondEnd = r;
      } else if (this.checkHead(r, hashes) && r.trusted) {
        lastCheckpointedSeq = Math.max(lastCheckpointedSeq ?? 0, r.cp.seq);
      }
    }
    if (beyondEnd !== null) {
      const from = (lastSeq ?? 0) + 1;
      const { cp, line } = beyondEnd;
      const range = from === cp.seq ? String(from) : `${from}–${cp.seq}`;
      this.add({ id: 'audit.entry.missing', severity: 'critical', seq: from, line, expected: range, found: `export ends at ${lastSeq ?? 'no entry'}`, message: `entries ${range} are covered by the checkpoint on line ${line} but absent: the log was truncated` });
    }
    this.checkClocks();
    let after = 0;
    for (const seq of hashes.keys()) if (seq > (lastCheckpointedSeq ?? 0)) after++;
    if (after > 0) {
      const from = (lastCheckpointedSeq ?? 0) + 1;
      this.add({ id: 'audit.entry.unsigned', severity: 'warning', seq: from, message: `${after} entries from seq ${from} on are not yet covered by a signed checkpoint` });
    }
    const counts: AuditCounts = {
      lines: this.lastLine,
      entries: this.entries.length,
      checkpoints: this.checkpoints.length,
      lastSeq,
      lastCheckpointedSeq,
      entriesAfterLastCheckpoint: after,
    };
    const findings = this.findings.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity) || (a.line ?? Infinity) - (b.line ?? Infinity));
    const bad = findings.filter((f) => ENTRY_IDS.has(f.id) && f.seq !== undefined && f.severity !== 'warning').map((f) => f.seq as number);
    return {
      ok: !findings.some((f) => f.severity !== 'warning') && this.omitted === 0,
      firstBadSeq: bad.length > 0 ? Math.min(...bad) : null,
      counts,
      akKeys: [...this.akKeys].map(([fingerprint, k]) => ({ fingerprint, ...k })),
      findings,
      findingsOmitted: this.omitted,
    };
  }

  /** Walk the entries in seq order; returns seq → stored hash of the entry taken for each seq. */
  private walkChain(): Map<number, string> {
    const sorted = [...this.entries].sort((a, b) => a.seq - b.seq);
    const hashes = new Map<number, string>();
    let prev: EntryRecord | null = null;
    for (let i = 0; i < sorted.length; ) {
      let j = i;
      while (j < sorted.length && sorted[j]!.seq === sorted[i]!.seq) j++;
      const group = sorted.slice(i, j);
      i = j;
      const seq = group[0]!.seq;
      const expectedPrev: string = prev === null ? GENESIS_HASH : prev.stored;
      const contiguous: boolean = seq === (prev?.seq ?? 0) + 1;
      const chosen: EntryRecord = group.find((r) => r.consistent && (!contiguous || r.prevHash === expectedPrev)) ?? group.find((r) => r.consistent) ?? group[0]!;
      for (const other of group) {
        if (other === chosen) continue;
        const same = other.stored === chosen.stored && other.consistent === chosen.consistent;
        this.add({
          id: 'audit.entry.duplicate', severity: same ? 'warning' : 'critical', seq, line: other.line,
          message: same ? `entry ${seq} appears again (identical to line ${chosen.line})` : `a second, different entry ${seq} (the chain continues from line ${chosen.line})`,
          ...(same ? {} : { expected: chosen.stored, found: other.stored }),
        });
      }
      if (!contiguous) {
        const from = (prev?.seq ?? 0) + 1;
        const range = from === seq - 1 ? String(from) : `${from}–${seq - 1}`;
        this.add({ id: 'audit.entry.missing', severity: 'critical', seq: from, line: chosen.line, expected: range, found: `next entry is ${seq}`, message: `entr${from === seq - 1 ? 'y' : 'ies'} ${range} missing (${seq - from})` });
      } else if (chosen.consistent && chosen.prevHash !== expectedPrev) {
        const what = prev === null ? 'the genesis value (64 zeros)' : `entry ${prev.seq}'s stored hash`;
        this.add({ id: 'audit.chain.broken', severity: 'critical', seq, line: chosen.line, expected: expectedPrev, found: chosen.prevHash, message: `entry ${seq}'s prevHash is not ${what}: ${prev === null ? 'the chain does not start here' : `entry ${prev.seq} was replaced, or entry ${seq} was spliced in`}` });
      }
      hashes.set(seq, chosen.stored);
      prev = chosen;
    }
    return hashes;
  }

  /** Whether the checkpoint's headHash is the stored hash at its seq (within the export's range). */
  private checkHead(r: CheckpointRecord, hashes: Map<number, string>): boolean {
    const { cp, line } = r;
    if (cp.seq === 0) {
      if (cp.headHash === GENESIS_HASH) return true;
      this.add({ id: 'audit.checkpoint.head-mismatch', severity: 'critical', seq: 0, line, expected: GENESIS_HASH, found: cp.headHash, message: 'checkpoint of the empty chain with a head hash other than 64 zeros' });
      return false;
    }
    const head = hashes.get(cp.seq);
    if (head === undefined) return false; // inside a gap, already reported as missing
    if (head === cp.headHash) return true;
    this.add({ id: 'audit.checkpoint.head-mismatch', severity: 'critical', seq: cp.seq, line, expected: cp.headHash, found: head, message: `the signed head hash at seq ${cp.seq} (${short(cp.headHash)}) is not the hash of entry ${cp.seq} in the export (${short(head)})` });
    return false;
  }

  /** TPM clock, resetCount (and restartCount while resetCount holds) never decrease as seq grows. */
  private checkClocks(): void {
    const signed = this.checkpoints.filter((r) => r.signed && r.trusted).sort((a, b) => a.cp.seq - b.cp.seq);
    for (let i = 1; i < signed.length; i++) {
      const a = signed[i - 1]!.cp;
      const { cp: b, line } = signed[i]!;
      const at = (c: Checkpoint) => `clock ${c.tpmClock}, resetCount ${c.resetCount}, restartCount ${c.restartCount}`;
      let what = '';
      if (b.resetCount < a.resetCount) what = 'resetCount';
      else if (BigInt(b.tpmClock) < BigInt(a.tpmClock)) what = 'clock';
      else if (b.resetCount === a.resetCount && b.restartCount < a.restartCount) what = 'restartCount';
      if (what) {
        this.add({ id: 'audit.checkpoint.clock-regressed', severity: 'critical', seq: b.seq, line, expected: `>= ${at(a)}`, found: at(b), message: `TPM ${what} went backwards from the checkpoint at seq ${a.seq} to the one at seq ${b.seq}` });
      }
    }
  }

  private add(f: AuditFinding): void {
    if (this.findings.length >= this.maxFindings) this.omitted++;
    else this.findings.push(f);
  }
}
