// @sealkeep/tpm — the emulated TPM 2.0 and everything that talks to a TPM: the engine and its
// command table, the wire format, the typed client and transports, standard templates, and the
// platform layer (manufacturer CA and EK certificates, measured launch, protected state, many
// TPMs in one process, VM measured boot, sealing to PCRs, restricted signing).

export { Tpm, type TpmOptions } from './engine/tpm.js';
export { ALL_COMMANDS } from './commands/index.js';
export * as commands from './commands/all.js';
export * as wire from './wire/types/index.js';
export * from './wire/constants.js';
export { TPM_CC } from './wire/command-codes.js';
export { TPMA_OBJECT } from './wire/attribute-bits.js';
export { TpmError, describeRc, rcParam, rcHandle, rcSession } from './wire/rc.js';
export { marshal, unmarshal } from './wire/codec.js';

export { TpmClient, type CallOptions } from './client/client.js';
export { InProcessTransport, type Transport } from './client/transport.js';
export { password, ClientSession } from './client/auth.js';
export * from './client/templates.js';
export { MssimServer, type MssimServerOptions, type MssimTarget } from './transport/mssim-server.js';
export { MssimTransport, parseMssimUrl } from './transport/mssim-client.js';

export { ManufacturerCa } from './platform/manufacturer-ca.js';
export { provisionEndorsement, provisionAttestationKey, readNvCertificate, publicKeyOfArea, EK_CERT_INDEX, AK_CERT_INDEX } from './platform/endorsement.js';
export { ekBinding, akHardwareSerial, AK_CERTIFICATE_EKU } from './platform/ak-certificate.js';
export { launch, type LaunchTarget, type LaunchResult } from './platform/launch.js';
export { provisionLaunchPolicy, readLaunchPolicy } from './platform/launch-policy.js';
export { CelLog, CelError, replay } from './platform/cel.js';
export { CEL_HASH_ALGS, EVENT_TYPES, eventTypeCode, eventTypeName, isExtending, type CelDigest, type CelHashAlg, type CelRecord } from './platform/cel.js';
export { TCG_OID, tcgId, type TpmIdentity } from './platform/ek-certificate.js';
export * as asn1 from './platform/asn1.js';
export { StateFile, StateFileError } from './platform/state-file.js';
export { openPersistentTpm, type PersistentTpm } from './platform/persistent-tpm.js';
export { TpmManager, ManagedTpm, TpmManagerError } from './platform/tpm-manager.js';
export { VM_PCR, VM_PCR_COUNT, VM_LOG_MAX_RECORDS, DIGEST_OF_DATA, VmBootLogError, checkVmBootLog, measureVmBoot, readVmPcrs, expectedVpcrs, type VpcrReferences } from './platform/vm-boot.js';
export { VM_SRK_HANDLE, MAX_SEALED_SECRET, PcrSealMismatch, pcrPolicyDigest, vmStorageKey, sealToPcrs, unsealWithPcrs, type SealedBlob } from './platform/pcr-seal.js';
export { signWithRestrictedKey, type EcdsaSignature } from './platform/restricted-sign.js';
