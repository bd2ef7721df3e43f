// Part 3 §12: object commands.
export { Create } from './create.js';
export { Load } from './load.js';
export { LoadExternal } from './load-external.js';
export { ReadPublic } from './read-public.js';
export { Unseal } from './unseal.js';
export { ObjectChangeAuth } from './object-change-auth.js';
export { CreateLoaded } from './create-loaded.js';
