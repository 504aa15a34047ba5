#!/usr/bin/env node
// The tsvmm command: runs the compiled CLI (npm install builds dist/ through the prepare script).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'dist/cli/main.js');
if (!existsSync(entry)) {
  console.error('tsvmm: dist/ is missing; run `npm install` (or `npm run build`) in ' + root);
  process.exit(2);
}
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
