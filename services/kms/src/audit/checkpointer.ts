// Signed audit checkpoints: every chain whose head moved gets a checkpoint once N entries are
// uncovered or T seconds have passed since its last one — the head (seq, hash) bound to the host
// TPM's clock and signed by its attestation key (@sealkeep/attestation's checkpoint format).
// The AK is a restricted signing key, so the digest is made by TPM2_Hash, whose ticket lets
// TPM2_Sign accept it. Checkpoints are stored beside their chain and exported in line with it.
//
// The head is read without locking the chain: a checkpoint covers a committed head, appends
// carry on meanwhile, and (chain, seq) is unique so two nodes checkpointing at once agree.

import type { Knex } from 'knex';
import { asSystem, inScope } from '@sealkeep/store';
import { canonicalize, ecdsaP1363, makeCheckpoint, type Checkpoint, type CheckpointSigner, type TpmClockInfo } from '@sealkeep/attestation';
import { commands, password, TPM_ALG, TPM_RH, type TpmClient } from '@sealkeep/tpm';
import type { LoadedKey } from '../platform/host-tpm.js';

export interface CheckpointPolicy {
  /** A chain is due once this many entries are not covered by a checkpoint… */
  entries: number;
  /** …or this many seconds after its last checkpoint, when any are. */
  seconds: number;
}

/** Signs with the host TPM's AK; reads TPMS_CLOCK_INFO for each checkpoint. */
export class TpmCheckpointSigner {
  constructor(
    private readonly client: TpmClient,
    private readonly ak: LoadedKey & { publicKeyPem: string },
  ) {}

  get akPublicKeyPem(): string {
    return this.ak.publicKeyPem;
  }

  async clock(): Promise<TpmClockInfo> {
    const { currentTime } = await this.client.call(commands.ReadClock, {}, {});
    return currentTime.clockInfo;
  }

  readonly sign: CheckpointSigner = async (_digest, message) => {
    const { outHash, validation } = await this.client.call(commands.Hash, {}, { data: message, hashAlg: TPM_ALG.SHA256, hierarchy: TPM_RH.ENDORSEMENT });
    const { signature } = await this.client.call(
      commands.Sign,
      { keyHandle: this.ak.handle },
      { digest: outHash, inScheme: { scheme: TPM_ALG.ECDSA, details: { hashAlg: TPM_ALG.SHA256 } } as never, validation },
      { auth: [password()] },
    );
    const ecc = signature.signature as { signatureR: Buffer; signatureS: Buffer };
    return { alg: 'ES256', value: ecdsaP1363(ecc.signatureR, ecc.signatureS).toString('base64') };
  };
}

interface DueChain {
  chain_id: string;
  tenant_id: string | null;
}

/** Chains due for a checkpoint under `policy`. */
async function dueChains(db: Knex, policy: CheckpointPolicy): Promise<DueChain[]> {
  return asSystem(db, 'checkpoints cover every chain', (trx) =>
    trx('audit_chains')
      .select('chain_id', 'tenant_id')
      .whereRaw('seq > checkpoint_seq')
      .andWhere((q) =>
        q.whereRaw('seq - checkpoint_seq >= ?', [policy.entries]).orWhereNull('checkpoint_at').orWhereRaw("checkpoint_at <= now() - make_interval(secs => ?)", [policy.seconds]),
      ),
  );
}

/** Sign and store one checkpoint over the chain's current head. */
export async function checkpointChain(db: Knex, signer: TpmCheckpointSigner, chain: DueChain): Promise<Checkpoint | null> {
  const head = await inScope(db, chain.tenant_id, (trx) => trx('audit_chains').where({ chain_id: chain.chain_id }).first());
  if (!head || head.seq === 0) return null;
  const cp = await makeCheckpoint({ seq: head.seq, hash: head.head_hash }, await signer.clock(), signer.sign, signer.akPublicKeyPem);
  await inScope(db, chain.tenant_id, async (trx) => {
    await trx('audit_checkpoints').insert({ chain_id: chain.chain_id, seq: cp.seq, tenant_id: chain.tenant_id, line: canonicalize(cp) }).onConflict(['chain_id', 'seq']).ignore();
    await trx('audit_chains')
      .where({ chain_id: chain.chain_id })
      .update({ checkpoint_seq: trx.raw('greatest(checkpoint_seq, ?)', [cp.seq]), checkpoint_at: trx.fn.now() });
  });
  return cp;
}

/** One pass: checkpoint every due chain; returns how many were signed. */
export async function checkpointDueChains(db: Knex, signer: TpmCheckpointSigner, policy: CheckpointPolicy): Promise<number> {
  let signed = 0;
  for (const chain of await dueChains(db, policy)) if (await checkpointChain(db, signer, chain)) signed++;
  return signed;
}

/**
 * Runs checkpointDueChains every `tickMs` until stopped; a failed pass is reported and retried
 * next tick. Stopping signs a last checkpoint over every chain's uncovered tail.
 */
export function startCheckpointer(db: Knex, signer: TpmCheckpointSigner, policy: CheckpointPolicy, onError: (e: unknown) => void, tickMs = 1000): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => checkpointDueChains(db, signer, policy)).catch(onError);
  }, tickMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
      await checkpointDueChains(db, signer, { entries: 1, seconds: 0 }).catch(onError);
    },
  };
}
