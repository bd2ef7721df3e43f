// TPM2_ReadClock — Part 3 §29.1: Time, Clock, resetCount, restartCount and Safe, in the clear.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPMS_TIME_INFO } from '../../wire/types/index.js';
import { defineCommand } from '../../engine/command.js';

export const ReadClock = defineCommand({
  name: 'ReadClock',
  code: TPM_CC.ReadClock,
  response: { currentTime: TPMS_TIME_INFO },
  execute(tpm) {
    const c = tpm.clock;
    return {
      currentTime: {
        time: c.time(),
        clockInfo: { clock: c.clock(), resetCount: c.resetCount, restartCount: c.restartCount, safe: c.safe ? 1 : 0 },
      },
    };
  },
});
