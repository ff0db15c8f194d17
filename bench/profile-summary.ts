/**
 * `tsx bench/profile-summary.ts <file.cpuprofile> [top]`: where a `node --cpu-prof` profile spent its
 * time: self time by function and by module (node_modules package, node internals, or repo file), plus
 * inclusive time of the functions named on the command line with --focus=name,name.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top] [--focus=fn,fn]');
  process.exit(2);
}
const top = Number(args.find((a) => /^\d+$/.test(a)) ?? 30);
const focus = (args.find((a) => a.startsWith('--focus='))?.slice('--focus='.length) ?? '').split(',').filter(Boolean);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

// Self time per node from the samples and their time deltas (µs).
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

function moduleOf(url: string): string {
  if (!url) return '(native/gc/idle)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return url;
  const repo = /\/(src|workers|bench)\/(.+)$/.exec(url);
  return repo ? `${repo[1]}/${repo[2]}` : url;
}

const byFunction = new Map<string, number>();
const byModule = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const mod = moduleOf(url);
  const key = `${functionName || '(anonymous)'}  ${mod}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  byModule.set(mod, (byModule.get(mod) ?? 0) + us);
}

const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
const print = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(us)}  ${key}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
print('Self time by module', byModule, top);
print('Self time by function', byFunction, top);

if (focus.length > 0) {
  // Inclusive time: a node's self time plus its descendants', summed over nodes whose function matches.
  const inclusive = new Map<number, number>();
  const visit = (id: number): number => {
    const cached = inclusive.get(id);
    if (cached !== undefined) return cached;
    const node = byId.get(id)!;
    const sum = (selfUs.get(id) ?? 0) + (node.children ?? []).reduce((acc, child) => acc + visit(child), 0);
    inclusive.set(id, sum);
    return sum;
  };
  const root = profile.nodes[0]!.id;
  visit(root);
  // Count each matching subtree once (skip matches nested inside another match of the same name).
  const totals = new Map<string, number>();
  const walk = (id: number, inside: Set<string>) => {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName;
    const next = new Set(inside);
    if (focus.includes(name) && !inside.has(name)) {
      totals.set(name, (totals.get(name) ?? 0) + inclusive.get(id)!);
      next.add(name);
    }
    for (const child of node.children ?? []) walk(child, next);
  };
  walk(root, new Set());
  print('Inclusive time of focused functions', totals, focus.length);
}
