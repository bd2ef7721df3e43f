// sealkeep keys — the tenant's keys from the command line:
//   sealkeep keys import --file KEY --name NAME --root MANUFACTURER.pem [--type T] [--cia C/I/A]
//       [--wrapping rsa-aes-key-wrap-sha256|rsa-oaep-sha256] [--wrapping-key-spec rsa-3072|rsa-4096]
//       [--description TEXT] [--dry-run]
//     bring your own key (docs/byok.md): the service opens an import job, this machine checks its
//     evidence against the manufacturer root pinned with --root, then wraps the key locally and
//     uploads only the wrapped bytes. --dry-run stops after the verdict.

import { readFileSync } from 'node:fs';
import { ImportEvidenceRejected, importKey, type Cia, type CiaLevel, type ImportKeyResult } from '../byok/import.js';
import type { ImportEvidenceVerdict } from '../byok/evidence.js';
import { isKeyType, KEY_TYPES } from '../byok/key-material.js';
import { isWrappingAlgorithm, WRAPPING_ALGORITHMS } from '../byok/wrap.js';
import { loadProfile, profileKey } from '../profile.js';

export const KEYS_USAGE = `  sealkeep keys import --file KEY --name NAME --root MANUFACTURER.pem [--type ${KEY_TYPES.join('|')}]
      [--cia C/I/A, e.g. high/high/moderate] [--wrapping ${WRAPPING_ALGORITHMS.join('|')}]
      [--wrapping-key-spec rsa-3072|rsa-4096] [--description TEXT] [--dry-run]`;

export const KEYS_OPTIONS = {
  file: { type: 'string' },
  type: { type: 'string' },
  root: { type: 'string' },
  cia: { type: 'string' },
  wrapping: { type: 'string' },
  'wrapping-key-spec': { type: 'string' },
  description: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

export interface KeysArgs {
  file?: string | undefined;
  name?: string | undefined;
  type?: string | undefined;
  root?: string | undefined;
  cia?: string | undefined;
  wrapping?: string | undefined;
  'wrapping-key-spec'?: string | undefined;
  description?: string | undefined;
  'dry-run'?: boolean | undefined;
}

type Out = (value: unknown, text: string) => void;

const CIA_LEVELS = new Set(['low', 'moderate', 'high']);

/** "high/high/moderate" → confidentiality / integrity / availability. */
export function parseCia(given: string): Cia {
  const levels = given.split('/');
  if (levels.length !== 3 || !levels.every((l) => CIA_LEVELS.has(l))) {
    throw new Error(`--cia takes confidentiality/integrity/availability, each low, moderate or high (e.g. high/high/moderate), not "${given}"`);
  }
  const [confidentiality, integrity, availability] = levels as [CiaLevel, CiaLevel, CiaLevel];
  return { confidentiality, integrity, availability };
}

export function describeVerdict(verdict: ImportEvidenceVerdict): string {
  const width = Math.max(...verdict.checks.map((c) => c.id.length));
  const lines = verdict.checks.map((c) => `  ${c.ok ? '✓' : '✗'} ${c.id.padEnd(width)}  ${c.message}`);
  const failed = verdict.checks.filter((c) => !c.ok).length;
  const summary = verdict.ok
    ? 'evidence verified: the wrapping key lives in a TPM of the pinned manufacturer'
    : `evidence REJECTED: ${failed} of ${verdict.checks.length} checks failed`;
  return [...lines, summary].join('\n');
}

const verdictJson = (v: ImportEvidenceVerdict) => ({ ok: v.ok, checks: v.checks });

function describeImported(r: ImportKeyResult): string {
  if (!r.key) return `dry run: nothing was wrapped or sent (import job ${r.importJobId} expires at ${r.expiresAt})`;
  const { name, keyId, primaryVersion, cia } = r.key;
  const classification = cia ? `; C/I/A ${cia.confidentiality}/${cia.integrity}/${cia.availability}` : '';
  return `imported ${name} (${r.keyType}): key ${keyId}, version ${primaryVersion}${classification}`;
}

function readRoot(file: string | undefined): string {
  if (!file) {
    throw new Error(
      '--root FILE is required: the TPM manufacturer\'s root certificate (PEM), obtained out of band — from the manufacturer or your own records, never from the service, whose evidence it is there to check',
    );
  }
  return readFileSync(file, 'utf8');
}

async function importCommand(file: string | undefined, profilePath: string, args: KeysArgs, out: Out): Promise<void> {
  const keyFile = args.file ?? file;
  if (!keyFile || !args.name) throw new Error('--file KEY and --name NAME are required');
  if (args.type !== undefined && !isKeyType(args.type)) throw new Error(`--type is one of ${KEY_TYPES.join(', ')}, not "${args.type}"`);
  if (args.wrapping !== undefined && !isWrappingAlgorithm(args.wrapping)) throw new Error(`--wrapping is ${WRAPPING_ALGORITHMS.join(' or ')}, not "${args.wrapping}"`);
  const spec = args['wrapping-key-spec'];
  if (spec !== undefined && spec !== 'rsa-3072' && spec !== 'rsa-4096') throw new Error(`--wrapping-key-spec is rsa-3072 or rsa-4096, not "${spec}"`);
  const cia = args.cia !== undefined ? parseCia(args.cia) : undefined;
  const trustedRootPem = readRoot(args.root);
  const profile = loadProfile(profilePath);
  if (!profile.tenantId) throw new Error("keys import is for a tenant's security officer: this profile belongs to no tenant");
  const baseUrl = profile.endpoints.tenant;
  if (!baseUrl) throw new Error('the profile has no tenant-plane endpoint');

  let result: ImportKeyResult;
  try {
    result = await importKey(
      { baseUrl, signer: { principalId: profile.principalId, key: profileKey(profile) }, tenantId: profile.tenantId },
      {
        file: keyFile,
        keyName: args.name,
        trustedRootPem,
        dryRun: !!args['dry-run'],
        ...(args.type !== undefined ? { keyType: args.type } : {}),
        ...(args.wrapping !== undefined ? { wrappingAlgorithm: args.wrapping } : {}),
        ...(spec !== undefined ? { wrappingKeySpec: spec } : {}),
        ...(cia ? { cia } : {}),
        ...(args.description !== undefined ? { description: args.description } : {}),
      },
    );
  } catch (e) {
    if (e instanceof ImportEvidenceRejected) out({ verdict: verdictJson(e.verdict) }, describeVerdict(e.verdict));
    throw e;
  }
  const rotation = result.newVersionOf ? `, a new version of key ${result.newVersionOf}` : '';
  const heading = `import job ${result.importJobId} for ${result.keyName} (${result.keyType}${rotation})`;
  out({ ...result, verdict: verdictJson(result.verdict) }, [heading, describeVerdict(result.verdict), ...(result.verdict.ok ? [describeImported(result)] : [])].join('\n'));
  if (!result.verdict.ok) throw new ImportEvidenceRejected(result.verdict);
}

export async function keysCommand(verb: string | undefined, arg: string | undefined, profilePath: string, args: KeysArgs, out: Out): Promise<void> {
  if (verb === 'import') return importCommand(arg, profilePath, args, out);
  throw new Error(`unknown command "keys ${verb ?? ''}"\nusage:\n${KEYS_USAGE}`);
}
