// The key engine: the one module that handles tenant key objects in the host TPM. It creates
// and certifies import wrapping keys, opens wrapped imports, puts material into the TPM or has
// the TPM generate it, and uses key versions (unseal, sign, HMAC). Callers hold TPM blobs and
// never a loaded handle; every TPM sequence runs one at a time on the engine's queue.
//
// Each key object's authValue is derived from the unsealed service root, so a blob taken from
// the database is useless to anyone but this service started measured:
//   authValue = HMAC-SHA-256(HKDF-SHA-256(root, "sealkeep/v1/key-object-auth"), "<purpose>:<id>:<version>")
//
// Sealed-data material (AES and XTS keys) is unsealed into memory to run AES-GCM and key wrap,
// kept at most `secretTtlMs` and wiped when it expires or its key is disabled or destroyed.

import { createHmac, hkdfSync } from 'node:crypto';
import { commands, marshal, password, publicKeyOfArea, TPM_ALG, TPM_RH, TPM_ST, TPMA_OBJECT as A, unmarshal, wire, type TpmClient } from '@sealkeep/tpm';
import { flush, type LoadedKey } from '../../platform/host-tpm.js';
import { asymmetricMaterial, checkRawMaterial, KEY_TYPE_SPECS, templateFor, type KeyType } from './key-types.js';
import { WorkQueue } from './work-queue.js';

const EMPTY: Buffer = Buffer.alloc(0);
const KEY_AUTH_INFO = 'sealkeep/v1/key-object-auth';

/** A key version as the store keeps it. */
export interface StoredVersion {
  keyId: string;
  version: number;
  type: KeyType;
  publicArea: Buffer;
  privateBlob: Buffer;
}

/** What the TPM made: blobs to store, and the public key of an asymmetric version. */
export interface SealedVersion {
  publicArea: Buffer;
  privateBlob: Buffer;
  publicKeySpki: Buffer | null;
}

export interface WrappingKey {
  publicArea: wire.TPMT_PUBLIC;
  privateBlob: Buffer;
}

export interface KeyEngineOptions {
  /** How long unsealed secret material stays in memory (default 60 s). */
  secretTtlMs?: number;
}

export class KeyEngine {
  readonly #client: TpmClient;
  readonly #srk: LoadedKey;
  readonly #ak: LoadedKey;
  readonly #authKey: Buffer;
  readonly #queue = new WorkQueue();
  readonly #secrets = new Map<string, { material: Buffer; until: number }>();
  readonly #forgetListeners: Array<(keyId: string | undefined) => void> = [];
  readonly #secretTtlMs: number;

  constructor(client: TpmClient, srk: LoadedKey, ak: LoadedKey, root: Buffer, opts: KeyEngineOptions = {}) {
    this.#client = client;
    this.#srk = srk;
    this.#ak = ak;
    this.#authKey = Buffer.from(hkdfSync('sha256', root, EMPTY, KEY_AUTH_INFO, 32));
    this.#secretTtlMs = opts.secretTtlMs ?? 60_000;
  }

  /** The AK that certifies wrapping keys (its public area goes into the evidence). */
  get attestationKey(): LoadedKey {
    return this.#ak;
  }

  #auth(purpose: 'key' | 'wrapping', id: string, version: number): Buffer {
    return createHmac('sha256', this.#authKey).update(`${purpose}:${id}:${version}`).digest();
  }

  async #create(template: wire.TPMT_PUBLIC, auth: Buffer, data: Buffer = EMPTY): Promise<{ outPublic: wire.TPMT_PUBLIC; outPrivate: Buffer }> {
    return this.#client.call(
      commands.Create,
      { parentHandle: this.#srk.handle },
      { inSensitive: { userAuth: auth, data }, inPublic: template, outsideInfo: EMPTY, creationPCR: [] },
      { auth: [password()] },
    );
  }

  async #withLoaded<T>(publicArea: wire.TPMT_PUBLIC, privateBlob: Buffer, use: (handle: number) => Promise<T>): Promise<T> {
    const loaded = await this.#client.call(commands.Load, { parentHandle: this.#srk.handle }, { inPrivate: privateBlob, inPublic: publicArea }, { auth: [password()] });
    try {
      return await use(loaded.objectHandle);
    } finally {
      await flush(this.#client, loaded.objectHandle).catch(() => {});
    }
  }

  // ---- import jobs ----

  /** A decrypt-only RSA key made in the TPM for one import job (OAEP-SHA-256 only). */
  createWrappingKey(jobId: string, bits: 3072 | 4096): Promise<WrappingKey> {
    const attrs = A.fixedTPM | A.fixedParent | A.sensitiveDataOrigin | A.userWithAuth | A.noDA | A.decrypt;
    const template = {
      type: TPM_ALG.RSA,
      nameAlg: TPM_ALG.SHA256,
      objectAttributes: attrs >>> 0,
      authPolicy: EMPTY,
      parameters: { symmetric: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null }, scheme: { scheme: TPM_ALG.OAEP, details: { hashAlg: TPM_ALG.SHA256 } }, keyBits: bits, exponent: 0 },
      unique: EMPTY,
    } as wire.TPMT_PUBLIC;
    return this.#queue.run(async () => {
      const r = await this.#create(template, this.#auth('wrapping', jobId, 0));
      return { publicArea: r.outPublic, privateBlob: r.outPrivate };
    });
  }

  /** TPM2_Certify of a wrapping key by the AK: the TPMS_ATTEST bytes and the TPMT_SIGNATURE bytes. */
  certify(jobId: string, key: WrappingKey, qualifyingData: Buffer): Promise<{ attest: Buffer; signature: Buffer }> {
    return this.#queue.run(() =>
      this.#withLoaded(key.publicArea, key.privateBlob, async (handle) => {
        const r = await this.#client.call(
          commands.Certify,
          { objectHandle: handle, signHandle: this.#ak.handle },
          { qualifyingData, inScheme: { scheme: TPM_ALG.NULL, details: null } as never },
          { auth: [password(this.#auth('wrapping', jobId, 0)), password()] },
        );
        return { attest: r.certifyInfo, signature: marshal(wire.TPMT_SIGNATURE, r.signature) };
      }),
    );
  }

  /** TPM2_RSA_Decrypt (OAEP-SHA-256, empty label) with a job's wrapping key. Throws on any failure. */
  rsaDecrypt(jobId: string, key: WrappingKey, cipherText: Buffer): Promise<Buffer> {
    return this.#queue.run(() =>
      this.#withLoaded(key.publicArea, key.privateBlob, async (handle) => {
        const r = await this.#client.call(
          commands.RSA_Decrypt,
          { keyHandle: handle },
          { cipherText, inScheme: { scheme: TPM_ALG.OAEP, details: { hashAlg: TPM_ALG.SHA256 } } as never, label: EMPTY },
          { auth: [password(this.#auth('wrapping', jobId, 0))] },
        );
        return r.message;
      }),
    );
  }

  // ---- key versions ----

  /** Put imported material into the TPM under the SRK. The caller zeroes `material` afterwards. */
  importMaterial(type: KeyType, keyId: string, version: number, material: Buffer): Promise<SealedVersion> {
    const auth = this.#auth('key', keyId, version);
    const kind = KEY_TYPE_SPECS[type].kind;
    return this.#queue.run(async () => {
      if (kind === 'secret' || kind === 'hmac') {
        checkRawMaterial(type, material);
        const r = await this.#create(templateFor(type, 'imported'), auth, material);
        return { publicArea: marshal(wire.TPMT_PUBLIC, r.outPublic), privateBlob: r.outPrivate, publicKeySpki: null };
      }
      const { publicUnique, sensitive, exponent } = asymmetricMaterial(type, material);
      const template = templateFor(type, 'imported', publicUnique);
      if (kind === 'rsa') (template.parameters as { exponent: number }).exponent = exponent;
      const duplicate = marshal(wire.TPM2B_SENSITIVE, { sensitiveType: template.type, authValue: auth, seedValue: EMPTY, sensitive } as never);
      sensitive.fill(0);
      const r = await this.#client.call(
        commands.Import,
        { parentHandle: this.#srk.handle },
        { encryptionKey: EMPTY, objectPublic: template, duplicate, inSymSeed: EMPTY, symmetricAlg: { algorithm: TPM_ALG.NULL, keyBits: null, mode: null } as never },
        { auth: [password()] },
      );
      duplicate.fill(0);
      return { publicArea: marshal(wire.TPMT_PUBLIC, template), privateBlob: r.outPrivate, publicKeySpki: spkiOf(template) };
    });
  }

  /** Have the TPM generate a new key version (sealed-data material from TPM2_GetRandom). */
  generate(type: KeyType, keyId: string, version: number): Promise<SealedVersion> {
    const auth = this.#auth('key', keyId, version);
    const spec = KEY_TYPE_SPECS[type];
    return this.#queue.run(async () => {
      let data: Buffer = EMPTY;
      if (spec.kind === 'secret') {
        do data = await this.#random(spec.length!.max);
        while (type === 'xts-aes-256' && data.subarray(0, 32).equals(data.subarray(32)));
      }
      const r = await this.#create(templateFor(type, 'generated'), auth, data);
      data.fill(0);
      const asymmetric = spec.kind === 'ec' || spec.kind === 'rsa';
      return { publicArea: marshal(wire.TPMT_PUBLIC, r.outPublic), privateBlob: r.outPrivate, publicKeySpki: asymmetric ? spkiOf(r.outPublic) : null };
    });
  }

  /** `n` bytes from TPM2_GetRandom, which answers at most one digest's worth per call. */
  async #random(n: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let have = 0; have < n; ) {
      const { randomBytes } = await this.#client.call(commands.GetRandom, {}, { bytesRequested: n - have });
      if (randomBytes.length === 0) throw new Error('the TPM returned no random bytes');
      parts.push(randomBytes);
      have += randomBytes.length;
    }
    const out = Buffer.concat(parts);
    for (const p of parts) p.fill(0);
    return out;
  }

  /** The material of a sealed-data version (AES, XTS), from memory or unsealed by the TPM. */
  async secret(v: StoredVersion): Promise<Buffer> {
    const id = `${v.keyId}:${v.version}`;
    const cached = this.#secrets.get(id);
    if (cached && cached.until > Date.now()) return cached.material;
    const material = await this.#queue.run(() =>
      this.#withLoaded(unmarshal(wire.TPMT_PUBLIC, v.publicArea), v.privateBlob, async (handle) => {
        const r = await this.#client.call(commands.Unseal, { itemHandle: handle }, {}, { auth: [password(this.#auth('key', v.keyId, v.version))] });
        return r.outData;
      }),
    );
    this.#sweep();
    this.#secrets.set(id, { material, until: Date.now() + this.#secretTtlMs });
    return material;
  }

  /** TPM2_Sign of a digest: ECDSA (r, s) or an RSA signature, as the TPM returns them. */
  sign(v: StoredVersion, digest: Buffer, scheme: { scheme: number; hashAlg: number }): Promise<wire.TPMT_SIGNATURE> {
    return this.#queue.run(() =>
      this.#withLoaded(unmarshal(wire.TPMT_PUBLIC, v.publicArea), v.privateBlob, async (handle) => {
        const r = await this.#client.call(
          commands.Sign,
          { keyHandle: handle },
          { digest, inScheme: { scheme: scheme.scheme, details: { hashAlg: scheme.hashAlg } } as never, validation: { tag: TPM_ST.HASHCHECK, hierarchy: TPM_RH.NULL, digest: EMPTY } as never },
          { auth: [password(this.#auth('key', v.keyId, v.version))] },
        );
        return r.signature;
      }),
    );
  }

  /** TPM2_HMAC (SHA-256) over each message with one load of the key. */
  hmac(v: StoredVersion, messages: readonly Buffer[]): Promise<Buffer[]> {
    return this.#queue.run(() =>
      this.#withLoaded(unmarshal(wire.TPMT_PUBLIC, v.publicArea), v.privateBlob, async (handle) => {
        const auth = { auth: [password(this.#auth('key', v.keyId, v.version))] };
        const out: Buffer[] = [];
        for (const m of messages) out.push((await this.#client.call(commands.HMAC, { handle }, { buffer: m, hashAlg: TPM_ALG.SHA256 }, auth)).outHMAC);
        return out;
      }),
    );
  }

  /** Called with the key (undefined: every key) whenever forget() runs: whatever holds material derived from it lets go too. */
  onForget(listener: (keyId: string | undefined) => void): void {
    this.#forgetListeners.push(listener);
  }

  /** Drop every unsealed secret of a key from memory (disable, destroy, emergency disable). */
  forget(keyId?: string): void {
    for (const listener of this.#forgetListeners) listener(keyId);
    for (const [id, s] of this.#secrets) {
      if (keyId === undefined || id.startsWith(`${keyId}:`)) {
        s.material.fill(0);
        this.#secrets.delete(id);
      }
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.#secrets) {
      if (s.until <= now) {
        s.material.fill(0);
        this.#secrets.delete(id);
      }
    }
  }
}

function spkiOf(pub: wire.TPMT_PUBLIC): Buffer {
  return publicKeyOfArea(pub).export({ type: 'spki', format: 'der' });
}
