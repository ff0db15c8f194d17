// Builds dist/esm (ES modules) and dist/cjs (CommonJS), each with its declarations, using the TypeScript
// compiler the repository already has: no bundler. A package.json {"type":"commonjs"} in dist/cjs makes
// Node and TypeScript read that half as CommonJS although this package is "type": "module".
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const run = (project) => execFileSync(process.execPath, [tsc, '-p', join(here, project)], { stdio: 'inherit' });

rmSync(join(here, 'dist'), { recursive: true, force: true });
// The core and the generic helper against Web APIs alone (no Node types): what runs at the edge.
run('tsconfig.web.json');
run('tsconfig.esm.json');
run('tsconfig.cjs.json');
mkdirSync(join(here, 'dist', 'cjs'), { recursive: true });
writeFileSync(join(here, 'dist', 'cjs', 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
