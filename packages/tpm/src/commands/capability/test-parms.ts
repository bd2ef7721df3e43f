// TPM2_TestParms — Part 3 §30.3: the parameters are supported when they unmarshal, since the
// TPMT_PUBLIC_PARMS codec accepts only the algorithms, key sizes, curves and schemes this TPM
// implements (answering TPM_RC_HASH, _SYMMETRIC, _CURVE, _SCHEME, _VALUE … as the spec names).
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMT_PUBLIC_PARMS } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const TestParms = defineCommand({
  name: 'TestParms',
  code: TPM_CC.TestParms,
  params: { parameters: TPMT_PUBLIC_PARMS },
  execute() {
    return {};
  },
});
