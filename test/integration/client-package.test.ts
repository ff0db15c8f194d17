/**
 * `subgate/client` as another Node service imports it: after `npm run build`, a project that depends on
 * subgate resolves the package's "exports" to the built JS and its types.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = process.cwd();

test("after the build, import { createEntitlementClient } from 'subgate/client' resolves, runs and type-checks", () => {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
  const dir = mkdtempSync(join(tmpdir(), 'subgate-consumer-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'subgate'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      join(dir, 'consumer.ts'),
      [
        "import { createEntitlementClient, requireEntitlement, type EntitlementCheck } from 'subgate/client';",
        "const client = createEntitlementClient({ baseUrl: 'http://127.0.0.1:9', token: 't', live: false });",
        "const gate = requireEntitlement({ client, getUserId: () => null });",
        "const check: Promise<EntitlementCheck> = client.checkUser('u');",
        "console.log(typeof gate, typeof check.then, client.liveState);",
        'await client.close();',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] }, files: ['consumer.ts'] }),
    );
    execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', dir], { cwd: dir, stdio: 'pipe' });
    writeFileSync(join(dir, 'consumer.mjs'), "import { createEntitlementClient } from 'subgate/client';\nconst c = createEntitlementClient({ baseUrl: 'http://127.0.0.1:9', token: 't', live: false });\nconsole.log(typeof c.checkUser, c.liveState);\n");
    const out = execFileSync(process.execPath, ['consumer.mjs'], { cwd: dir, encoding: 'utf8' });
    assert.equal(out.trim(), 'function off');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
