// Entry for running the CLI from source (see bin/sealkeep.mjs).
import { main } from './main.js';

process.exitCode = await main();
