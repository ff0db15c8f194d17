/**
 * Keeps the layers honest, as part of `npm test`. Every module of src/ and workers/ belongs to a layer;
 * a module imports only from its own layer entry or from lower layers, and `import type` counts as much
 * as a runtime import: a type import is a dependency a reader has to follow, and it is how back-arrows
 * start. src/domain is pure on top of that: other domain modules, node:crypto for hashing, and Stripe's
 * type declarations (type-only: the shapes of its objects, no code). No module takes part in an import
 * cycle.
 *
 * `npx tsx scripts/check-layers.ts --report` prints every violation and a count instead of failing early.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const roots = ['src', 'workers'].map((dir) => join(root, dir));

/**
 * Lowest first. An entry is a folder (every module below it) or one file; entries of one layer do not
 * import each other. Reading top to bottom is reading the system from its rules to its doors.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['src/domain'],
  // Process plumbing (config, logs, time, traces) and the content service's client library: nothing of subgate's services below them.
  ['src/config.ts', 'src/logger.ts', 'src/runtime.ts', 'src/tracing.ts', 'src/client'],
  ['src/drain.ts'],
  // I/O: one module per Redis key family; then Stripe and the mailer (Stripe's client spends the store's request budget).
  ['src/store'],
  ['src/adapters'],
  // Queue and job definitions and their producers, shared by every door.
  ['src/queues.ts'],
  ['src/metrics'],
  // Services, each using only those above it in this list.
  ['src/billing'],
  ['src/notices'],
  ['src/sync'],
  ['src/expiry'],
  ['src/operations'],
  // What coordinates several services (the hook after a write, the update-card return).
  ['src/flows'],
  // Doors: HTTP routes and queue processors.
  ['src/http', 'workers/processors'],
  ['src/app.ts', 'workers/worker-set.ts'],
  // Builds every service from Config; the entry points only call it.
  ['src/composition.ts'],
  ['src/main.ts', 'workers/main.ts', 'workers/resync-cli.ts'],
];

const DOMAIN = 'src/domain';
const DOMAIN_ALLOWED = new Set(['node:crypto']);
/** Packages domain code may import types from (never values). */
const DOMAIN_TYPE_ONLY = new Set(['stripe']);

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

interface ImportSpec {
  spec: string;
  typeOnly: boolean;
}

/** Every static import and re-export, type-only ones included (and marked), plus dynamic imports. */
function importsOf(file: string): ImportSpec[] {
  const text = readFileSync(file, 'utf8');
  const specs: ImportSpec[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const match of text.matchAll(statement)) specs.push({ spec: match[3]!, typeOnly: match[2] !== undefined });
  for (const match of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push({ spec: match[1]!, typeOnly: false });
  return specs;
}

const rel = (file: string) => relative(root, file).split(sep).join('/');

/** [layer index, entry] of a module, or null when no entry covers it (itself a failure). */
function placeOf(file: string): [number, string] | null {
  const path = rel(file);
  for (let index = 0; index < LAYERS.length; index++) {
    for (const entry of LAYERS[index]!) {
      if (path === entry || path.startsWith(`${entry}/`)) return [index, entry];
    }
  }
  return null;
}

const files = roots.flatMap(listFiles);
const problems: string[] = [];
const graph = new Map<string, string[]>();

for (const file of files) {
  const from = placeOf(file);
  if (!from) problems.push(`${rel(file)} is in no layer: add its folder to LAYERS in scripts/check-layers.ts`);
  const local: string[] = [];
  for (const { spec, typeOnly } of importsOf(file)) {
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!typeOnly) local.push(target);
      const to = placeOf(target);
      if (from && to && (to[0] > from[0] || (to[0] === from[0] && to[1] !== from[1]))) {
        problems.push(`${rel(file)} imports${typeOnly ? ' type' : ''} ${rel(target)}: ${to[1]} is ${to[0] > from[0] ? 'above' : 'beside'} ${from[1]}`);
      }
    } else if (from?.[1] === DOMAIN && !DOMAIN_ALLOWED.has(spec) && !(typeOnly && DOMAIN_TYPE_ONLY.has(spec))) {
      problems.push(`${rel(file)} (domain) imports${typeOnly ? ' type' : ''} '${spec}': domain code does no I/O and uses no framework`);
    }
  }
  graph.set(file, local);
}

const state = new Map<string, 'visiting' | 'done'>();
function visit(file: string, path: string[]): void {
  if (state.get(file) === 'done') return;
  if (state.get(file) === 'visiting') {
    const cycle = path.slice(path.indexOf(file)).concat(file).map(rel);
    problems.push(`import cycle: ${cycle.join(' -> ')}`);
    return;
  }
  state.set(file, 'visiting');
  for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
  state.set(file, 'done');
}
for (const file of graph.keys()) visit(file, []);

const unique = [...new Set(problems)];
if (process.argv.includes('--report')) {
  for (const problem of unique) console.log(problem);
  console.log(`${unique.length} problems in ${files.length} modules`);
} else if (unique.length > 0) {
  console.error(`Layer check failed:\n- ${unique.join('\n- ')}`);
  process.exit(1);
} else {
  console.log(`layers ok: ${files.length} modules in ${LAYERS.length} layers, type imports counted, domain pure, no import cycles`);
}
