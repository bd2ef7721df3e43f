// Part 3 §24: hierarchy commands.
export { CreatePrimary } from './create-primary.js';
export { SetPrimaryPolicy } from './set-primary-policy.js';
export { HierarchyControl } from './hierarchy-control.js';
export { Clear } from './clear.js';
export { ClearControl } from './clear-control.js';
export { HierarchyChangeAuth } from './hierarchy-change-auth.js';
