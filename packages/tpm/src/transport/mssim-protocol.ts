// The TCG / Microsoft TPM simulator ("mssim") TCP protocol, as spoken by tpm2-tss's mssim TCTI:
// a command port P and a platform port P+1, every integer big-endian.

/** Signals on the platform port (answered u32 0), and commands on the command port. */
export const MSSIM = {
  SIGNAL_POWER_ON: 1,
  SIGNAL_POWER_OFF: 2,
  SIGNAL_PHYS_PRES_ON: 3,
  SIGNAL_PHYS_PRES_OFF: 4,
  HASH_START: 5,
  HASH_DATA: 6,
  HASH_END: 7,
  SEND_COMMAND: 8,
  SIGNAL_CANCEL_ON: 9,
  SIGNAL_CANCEL_OFF: 10,
  SIGNAL_NV_ON: 11,
  SIGNAL_NV_OFF: 12,
  SIGNAL_KEY_CACHE_ON: 13,
  SIGNAL_KEY_CACHE_OFF: 14,
  REMOTE_HANDSHAKE: 15,
  SET_ALTERNATIVE_RESULT: 16,
  SIGNAL_RESET: 17,
  SIGNAL_RESTART: 18,
  SESSION_END: 20,
  STOP: 21,
  GET_COMMAND_RESPONSE_SIZES: 25,
  TEST_FAILURE_MODE: 30,
} as const;

/** Largest command the server accepts (the reference's MAX_COMMAND_SIZE is 4096; we allow more). */
export const MAX_COMMAND_SIZE = 8192;
