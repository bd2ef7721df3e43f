// TPM2_ClockSet — Part 3 §29.2: Clock moves only forward, and not into the top 2^48 ms it
// keeps in reserve (TPM_RC_VALUE).
import { TPM_CC } from '../../wire/command-codes.js';
import { u64 } from '../../wire/codec.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcParam } from '../../wire/rc.js';
import { TPMI_RH_PROVISION } from '../../wire/types/index.js';
import { defineCommand, fail } from '../../engine/command.js';

const CLOCK_MAX = 0xffff000000000000n;

export const ClockSet = defineCommand({
  name: 'ClockSet',
  code: TPM_CC.ClockSet,
  handles: { auth: { codec: TPMI_RH_PROVISION, auth: 'USER' } },
  params: { newTime: u64 },
  execute(tpm, _h, { newTime }) {
    if (newTime > CLOCK_MAX || newTime < tpm.clock.clock()) fail(rcParam(TPM_RC.VALUE, 1));
    tpm.clock.set(newTime);
    return {};
  },
});
