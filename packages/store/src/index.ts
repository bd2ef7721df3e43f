// @sealkeep/store — the store over embedded PGlite or PostgreSQL.
export { storeConfigFromEnv, dataDirFromEnv, describeStoreConfig, redactUrl, type StoreConfig } from './config.js';
export { openStore, type Store } from './store.js';
export { StoreOpenError } from './errors.js';
export { takeProcessLock } from './data-dir-lock.js';
export { parseInt8 } from './drivers.js';
export { inTenant, inScope, asProvider, asSystem, enterTenant, enterProvider, ScopeError, APP_ROLE } from './scoped.js';
