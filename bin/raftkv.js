#!/usr/bin/env node
// Runs the TypeScript sources through tsx so that `npm start`, the container and the tests all
// execute the same files.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
