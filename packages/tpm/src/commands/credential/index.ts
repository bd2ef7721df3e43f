// Part 3 §12.5–12.6: credential activation (kept apart from the object commands).
export { ActivateCredential } from './activate-credential.js';
export { MakeCredential } from './make-credential.js';
