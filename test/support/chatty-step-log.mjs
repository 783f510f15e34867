#!/usr/bin/env node
// A process that logs numbered lines through the real step log into a filesystem store until it is killed:
// `chatty-step-log.mjs <store root> <entity id>`. Each line is printed on stdout as well, as steps do.
import { register } from 'tsx/esm/api';

register();
const { createStepLog } = await import('../../src/steps/context.ts');
const { FilesystemObjectStore } = await import('../../src/adapters/object-store/filesystem.ts');
const [root, id] = process.argv.slice(2);
const log = createStepLog({
  objectStore: new FilesystemObjectStore({ root }),
  category: 'datasets',
  id,
  step: 'fetch-data',
  attempt: 1,
});
let n = 0;
setInterval(() => log.info(`line ${n++}`), 5);
