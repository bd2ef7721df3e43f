// TPM2_PCR_Read — Part 3 §22.4: at most eight digests per call, lowest bank entry and PCR
// first; the returned selection says exactly which values came back.
import { TPM_CC } from '../../wire/command-codes.js';
import { u32 } from '../../wire/codec.js';
import { TPML_PCR_SELECTION, TPML_DIGEST_OUT, pcrIndices, pcrBitmap } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

const MAX_VALUES = 8;

export const PCR_Read = defineCommand({
  name: 'PCR_Read',
  code: TPM_CC.PCR_Read,
  params: { pcrSelectionIn: TPML_PCR_SELECTION },
  response: { pcrUpdateCounter: u32, pcrSelectionOut: TPML_PCR_SELECTION, pcrValues: TPML_DIGEST_OUT },
  execute(tpm, _h, { pcrSelectionIn }) {
    const values: Buffer[] = [];
    const out = [];
    for (const sel of pcrSelectionIn) {
      const taken: number[] = [];
      if (tpm.pcr.supports(sel.hash)) {
        for (const i of pcrIndices(sel.pcrSelect)) {
          if (i >= tpm.pcr.count || values.length >= MAX_VALUES) continue;
          values.push(tpm.pcr.read(sel.hash, i));
          taken.push(i);
        }
      }
      out.push({ hash: sel.hash, pcrSelect: pcrBitmap(taken, sel.pcrSelect.length) });
    }
    return { pcrUpdateCounter: tpm.pcr.updateCounter, pcrSelectionOut: out, pcrValues: values };
  },
});
