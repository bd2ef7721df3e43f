// Part 3 §28: context management.
export { ContextSave } from './context-save.js';
export { ContextLoad } from './context-load.js';
export { FlushContext } from './flush-context.js';
export { EvictControl } from './evict-control.js';
