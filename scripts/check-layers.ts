/**
 * Keeps the layers honest, as part of `npm test`: src/domain imports nothing but other domain modules
 * (and node:crypto for pure hashing), and no module takes part in an import cycle.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const roots = ['src', 'workers'].map((dir) => join(root, dir));
const domain = join(root, 'src', 'domain');
const DOMAIN_ALLOWED_BUILTINS = new Set(['node:crypto']);

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return listFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Runtime imports only: `import type` and `export type` vanish at build time and can't form cycles. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  const pattern = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const match of text.matchAll(pattern)) specs.push(match[1]!);
  return specs;
}

const files = roots.flatMap(listFiles);
const problems: string[] = [];
const graph = new Map<string, string[]>();

for (const file of files) {
  const local: string[] = [];
  for (const spec of importsOf(file)) {
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      local.push(target);
      if (file.startsWith(domain) && !target.startsWith(domain)) {
        problems.push(`${relative(root, file)} (domain) imports ${spec}, outside src/domain`);
      }
    } else if (file.startsWith(domain) && !DOMAIN_ALLOWED_BUILTINS.has(spec)) {
      problems.push(`${relative(root, file)} (domain) imports '${spec}': domain code does no I/O and uses no framework`);
    }
  }
  graph.set(file, local);
}

const state = new Map<string, 'visiting' | 'done'>();
function visit(file: string, path: string[]): void {
  if (state.get(file) === 'done') return;
  if (state.get(file) === 'visiting') {
    const cycle = path.slice(path.indexOf(file)).concat(file).map((f) => relative(root, f));
    problems.push(`import cycle: ${cycle.join(' -> ')}`);
    return;
  }
  state.set(file, 'visiting');
  for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
  state.set(file, 'done');
}
for (const file of graph.keys()) visit(file, []);

if (problems.length > 0) {
  console.error(`Layer check failed:\n- ${[...new Set(problems)].join('\n- ')}`);
  process.exit(1);
}
console.log(`layers ok: ${files.length} modules, domain pure, no import cycles`);
