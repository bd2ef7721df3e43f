// TPM2_MakeCredential — Part 3 §12.6: what a certificate authority does off the TPM, done by
// one: share an "IDENTITY" seed with the protector (usually an EK) and wrap the credential
// with it, bound to the Name of the key the credential is for. Uses only the public key.
import { TPM_CC } from '../../wire/command-codes.js';
import { TPM_RC } from '../../wire/constants.js';
import { rcHandle, rcParam } from '../../wire/rc.js';
import { TPM2B_DIGEST, TPM2B_ENCRYPTED_SECRET, TPM2B_ID_OBJECT, TPM2B_NAME, TPMI_DH_OBJECT } from '../../wire/types/index.js';
import { digestSize } from '../../crypto/hash.js';
import { protectCredential } from '../../crypto/protection.js';
import { createSeed } from '../../crypto/secret-sharing.js';
import { defineCommand, fail } from '../../engine/command.js';
import { crypto } from '../asymmetric/crypto-rc.js';
import { sharingRecipientOf } from '../asymmetric/key-material.js';
import { canProtectCredentials, credentialProtection } from './credential-protector.js';

export const MakeCredential = defineCommand({
  name: 'MakeCredential',
  code: TPM_CC.MakeCredential,
  handles: { handle: { codec: TPMI_DH_OBJECT } },
  params: { credential: TPM2B_DIGEST, objectName: TPM2B_NAME },
  response: { credentialBlob: TPM2B_ID_OBJECT, secret: TPM2B_ENCRYPTED_SECRET },
  execute(tpm, { handle }, { credential, objectName }) {
    const protector = tpm.objects.get(handle);
    if (!canProtectCredentials(protector)) fail(rcHandle(TPM_RC.TYPE, 1));
    if (credential.length > digestSize(protector.public.nameAlg)) fail(rcParam(TPM_RC.SIZE, 1));
    const { seed, encryptedSecret } = crypto('bare', () => createSeed(sharingRecipientOf(protector), 'IDENTITY'));
    const credentialBlob = protectCredential(credentialProtection(protector, seed, objectName), credential);
    return { credentialBlob, secret: encryptedSecret };
  },
});
