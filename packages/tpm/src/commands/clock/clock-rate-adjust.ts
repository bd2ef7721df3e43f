// TPM2_ClockRateAdjust — Part 3 §29.3: the platform or owner asks Clock to run a little faster
// or slower. The setting is recorded; this TPM's Clock follows the host's clock.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_CLOCK_ADJUST, TPMI_RH_PROVISION } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const ClockRateAdjust = defineCommand({
  name: 'ClockRateAdjust',
  code: TPM_CC.ClockRateAdjust,
  handles: { auth: { codec: TPMI_RH_PROVISION, auth: 'USER' } },
  params: { rateAdjust: TPM_CLOCK_ADJUST },
  execute(tpm, _h, { rateAdjust }) {
    tpm.clock.rateAdjust = rateAdjust;
    return {};
  },
});
