// The transport seam: one method that carries a command to a TPM and its response back.
// In-process, over the TCG simulator protocol, or to a device — the client cannot tell.

import type { Tpm } from '../engine/tpm.js';

export interface Transport {
  send(command: Uint8Array): Promise<Buffer>;
  close?(): Promise<void>;
}

/** A TPM in this process, at a fixed locality. */
export class InProcessTransport implements Transport {
  constructor(
    private readonly tpm: Tpm,
    public locality = 0,
  ) {}
  async send(command: Uint8Array): Promise<Buffer> {
    return this.tpm.execute(command, this.locality);
  }

  /** The DRTM sequence _TPM_Hash_Start/Data/End (locality 4), as MssimTransport sends it. */
  async dynamicLaunch(data: Buffer): Promise<void> {
    this.tpm.hashStart();
    this.tpm.hashData(data);
    this.tpm.hashEnd();
  }
}
