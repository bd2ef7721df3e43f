// The crypto layer reports what a caller did wrong as a CryptoFailure carrying a base response
// code; a command turns it into its answer here, naming the parameter or handle at fault the
// way the reference TPM does (RcSafeAddToResult), or leaving it bare when the reference does.

import { CryptoFailure } from '../../crypto/errors.js';
import { fail } from '../../engine/command.js';
import { rcHandle, rcParam } from '../../wire/rc.js';

/** Where a failure is reported: a parameter, a handle, or nowhere (the bare code). */
export type FaultSite = { param: number } | { handle: number } | 'bare';

function locate(rc: number, site: FaultSite): number {
  if (site === 'bare') return rc;
  return 'param' in site ? rcParam(rc, site.param) : rcHandle(rc, site.handle);
}

/** Run `fn`; a CryptoFailure becomes the command's response code at `site`. */
export function crypto<T>(site: FaultSite, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CryptoFailure) fail(locate(e.rc, site), e.message);
    throw e;
  }
}
