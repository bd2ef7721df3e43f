// Creation data (Part 1 §27.6, Part 2 §15.1, reference FillInCreationData): what the TPM
// records about the circumstances of an object's creation — the PCRs selected, the locality,
// the parent's Name and Qualified Name, the caller's outsideInfo — with its digest and the
// creation ticket that lets TPM2_CertifyCreation vouch for it later.

import { marshal } from '../wire/codec.js';
import { TPM_ALG, TPM_HT } from '../wire/constants.js';
import { pcrIndices, TPMS_CREATION_DATA, type TPML_PCR_SELECTION, type TPMT_TK_CREATION } from '../wire/types/index.js';
import { digest } from '../crypto/hash.js';
import { creationTicket } from './tickets.js';
import type { TpmObject } from './objects.js';
import type { Tpm } from './tpm.js';

export interface CreationOutputs {
  creationData: TPMS_CREATION_DATA;
  creationHash: Buffer;
  creationTicket: TPMT_TK_CREATION;
}

function handleBytes(h: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(h >>> 0);
  return b;
}

/** TPMA_LOCALITY of a locality: one bit for 0–4, the value itself for an extended locality. */
function localityAttribute(locality: number): number {
  return locality < 5 ? 1 << locality : locality;
}

/** H_nameAlg of the selected PCR values, banks in selection order, PCRs ascending. */
function pcrDigest(tpm: Tpm, hashAlg: number, selection: TPML_PCR_SELECTION): Buffer {
  const values: Buffer[] = [];
  for (const sel of selection) {
    if (!tpm.pcr.supports(sel.hash)) continue;
    for (const i of pcrIndices(sel.pcrSelect)) if (i < tpm.pcr.count) values.push(tpm.pcr.read(sel.hash, i));
  }
  return digest(hashAlg, ...values);
}

/**
 * The TPMS_CREATION_DATA of `obj` created under `parentHandle` (a hierarchy, or a loaded parent
 * object), its creationHash (H_nameAlg of the marshaled data) and its creation ticket.
 */
export function creationData(
  tpm: Tpm,
  opts: { parentHandle: number; obj: TpmObject; creationPCR: TPML_PCR_SELECTION; outsideInfo: Buffer; locality: number },
): CreationOutputs {
  const { obj, parentHandle } = opts;
  const nameAlg = obj.public.nameAlg;
  const isHierarchy = parentHandle >>> 24 === TPM_HT.PERMANENT;
  const parent = isHierarchy ? null : tpm.objects.get(parentHandle);
  const data: TPMS_CREATION_DATA = {
    pcrSelect: opts.creationPCR,
    pcrDigest: pcrDigest(tpm, nameAlg, opts.creationPCR),
    locality: localityAttribute(opts.locality),
    parentNameAlg: parent ? parent.public.nameAlg : TPM_ALG.NULL,
    parentName: parent ? parent.name : handleBytes(parentHandle),
    parentQualifiedName: parent ? parent.qualifiedName : handleBytes(parentHandle),
    outsideInfo: opts.outsideInfo,
  };
  const creationHash = digest(nameAlg, marshal(TPMS_CREATION_DATA, data));
  const hierarchy = parent ? parent.hierarchy : parentHandle;
  return { creationData: data, creationHash, creationTicket: creationTicket(tpm, hierarchy, obj.name, creationHash) };
}
