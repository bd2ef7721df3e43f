// TPM2_ActivateCredential — Part 3 §12.5: recover the "IDENTITY" seed with the protector's
// private key (keyHandle, USER role: for an EK, a PolicySecret(endorsement) session), then
// unwrap the credential, which opens only for the Name of activateHandle (ADMIN role).
// A bent blob is TPM_RC_INTEGRITY on credentialBlob; a bad seed is reported on secret.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcHandle } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPM2B_ENCRYPTED_SECRET, TPM2B_ID_OBJECT, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { recoverCredential } from '../../crypto/protection.js';
import { recoverSeed } from '../../crypto/secret-sharing.js';
import { defineCommand, fail } from '../../engine/command.js';
import { crypto } from '../asymmetric/crypto-rc.js';
import { sharingKeyOf } from '../asymmetric/key-material.js';
import { canProtectCredentials, credentialProtection } from './credential-protector.js';

export const ActivateCredential = defineCommand({
  name: 'ActivateCredential',
  code: TPM_CC.ActivateCredential,
  handles: {
    activateHandle: { codec: TPMI_DH_OBJECT, auth: 'ADMIN' },
    keyHandle: { codec: TPMI_DH_OBJECT, auth: 'USER' },
  },
  params: { credentialBlob: TPM2B_ID_OBJECT, secret: TPM2B_ENCRYPTED_SECRET },
  response: { certInfo: TPM2B_DIGEST },
  execute(tpm, { activateHandle, keyHandle }, { credentialBlob, secret }) {
    const protector = tpm.objects.get(keyHandle);
    const activated = tpm.objects.get(activateHandle);
    if (!canProtectCredentials(protector)) fail(rcHandle(TPM_RC.TYPE, 2));
    const seed = crypto({ param: 2 }, () => recoverSeed(sharingKeyOf(protector), 'IDENTITY', secret));
    const protection = credentialProtection(protector, seed, activated.name);
    return { certInfo: crypto({ param: 1 }, () => recoverCredential(protection, credentialBlob)) };
  },
});
