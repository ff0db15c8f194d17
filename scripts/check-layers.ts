/**
 * Keeps the layers honest, as part of `npm test`. Every module of src/ and workers/ belongs to a layer;
 * a module imports only from its own layer entry or from lower layers, and `import type` counts as much
 * as a runtime import: a type import is a dependency a reader has to follow, and it is how back-arrows
 * start. src/domain is pure on top of that: other domain modules, node:crypto for hashing, and Stripe's
 * type declarations (type-only: the shapes of its objects, no code). No module takes part in an import
 * cycle.
 *
 * The content service's client, packages/client (published alone as `@subgate/client`), stands outside the
 * layers: it imports nothing of src/ or workers/, no package at all but its adapters' frameworks (their
 * types only), and nothing from `node:` (its core runs on Web-standard runtimes); its core does not reach
 * the framework adapters. The server imports it by name and type-only (the wire shapes), so subgate runs
 * without the client built.
 *
 * `npx tsx scripts/check-layers.ts --report` prints every violation and a count instead of failing early.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const roots = ['src', 'workers'].map((dir) => join(root, dir));
const CLIENT = 'packages/client/src';
const CLIENT_PACKAGE = '@subgate/client';
/** The client's framework adapters: the only client modules that may import a package, its types only. */
const CLIENT_ADAPTERS: ReadonlyMap<string, string> = new Map([
  [`${CLIENT}/express.ts`, 'express'],
  [`${CLIENT}/fastify.ts`, 'fastify'],
]);
const CLIENT_CORE = `${CLIENT}/index.ts`;

/**
 * Lowest first. An entry is a folder (every module below it) or one file; entries of one layer do not
 * import each other. Reading top to bottom is reading the system from its rules to its doors.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['src/domain'],
  // Process plumbing (config, logs, time, traces): nothing of subgate's services below them.
  ['src/config.ts', 'src/logger.ts', 'src/runtime.ts', 'src/tracing.ts'],
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
const clientFiles = listFiles(join(root, CLIENT));
const problems: string[] = [];
const graph = new Map<string, string[]>();

for (const file of clientFiles) {
  const path = rel(file);
  const local: string[] = [];
  for (const { spec, typeOnly } of importsOf(file)) {
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!rel(target).startsWith(`${CLIENT}/`)) problems.push(`${path} imports ${rel(target)}: the client package imports nothing outside ${CLIENT}`);
      local.push(target);
    } else if (spec.startsWith('node:')) {
      problems.push(`${path} imports '${spec}': the client runs on Web-standard runtimes, which have no node: modules`);
    } else if (!(typeOnly && CLIENT_ADAPTERS.get(path) === spec)) {
      problems.push(`${path} imports${typeOnly ? ' type' : ''} '${spec}': the client package has no dependencies (an adapter may import its framework's types only)`);
    }
  }
  graph.set(file, local);
}

/** Modules the client's core reaches (type imports included: a consumer's compiler follows them). */
const core = new Set<string>();
(function reach(file: string) {
  if (core.has(file)) return;
  core.add(file);
  for (const next of graph.get(file) ?? []) reach(next);
})(join(root, CLIENT_CORE));
for (const adapter of CLIENT_ADAPTERS.keys()) {
  if (core.has(join(root, adapter))) problems.push(`${CLIENT_CORE} reaches ${adapter}: the core must not need a framework`);
}

for (const file of files) {
  const from = placeOf(file);
  if (!from) problems.push(`${rel(file)} is in no layer: add its folder to LAYERS in scripts/check-layers.ts`);
  const local: string[] = [];
  for (const { spec, typeOnly } of importsOf(file)) {
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!typeOnly) local.push(target);
      if (rel(target).startsWith('packages/')) {
        problems.push(`${rel(file)} imports ${rel(target)} by path: import '${CLIENT_PACKAGE}' by name`);
        continue;
      }
      const to = placeOf(target);
      if (from && to && (to[0] > from[0] || (to[0] === from[0] && to[1] !== from[1]))) {
        problems.push(`${rel(file)} imports${typeOnly ? ' type' : ''} ${rel(target)}: ${to[1]} is ${to[0] > from[0] ? 'above' : 'beside'} ${from[1]}`);
      }
    } else if ((spec === CLIENT_PACKAGE || spec.startsWith(`${CLIENT_PACKAGE}/`)) && !typeOnly) {
      problems.push(`${rel(file)} imports '${spec}' at run time: the server takes only the wire types from the client (import type)`);
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
  console.log(`${unique.length} problems in ${files.length + clientFiles.length} modules`);
} else if (unique.length > 0) {
  console.error(`Layer check failed:\n- ${unique.join('\n- ')}`);
  process.exit(1);
} else {
  console.log(
    `layers ok: ${files.length} modules in ${LAYERS.length} layers, type imports counted, domain pure, no import cycles; ` +
      `client package: ${clientFiles.length} modules, self-contained, no node: imports, core ${core.size} modules free of the adapters`,
  );
}
