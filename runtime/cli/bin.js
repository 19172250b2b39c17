#!/usr/bin/env node
// payout-sandbox CLI entry. The project pins Node 24 as a dev dependency; npm scripts and npx put
// it first on PATH. Under an older node we stop with a clear message instead of a syntax error.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`payout-sandbox needs Node 24 or newer; this is ${process.version}.\n` +
    'Run it through npx (npx payout-sandbox …) or npm scripts: the project pins Node 24 as a dev dependency.');
  process.exit(1);
}
// The repository runs its TypeScript directly; the built package (npm run build) ships main.js.
import { existsSync } from 'node:fs';
await import(existsSync(new URL('./main.js', import.meta.url)) ? './main.js' : './main.ts');
