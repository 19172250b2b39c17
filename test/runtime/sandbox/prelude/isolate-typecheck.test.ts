// The JavaScript that runs inside plugin isolates (prelude and shims) is type-checked against what
// an isolate really has (tsconfig.isolate.json, isolate-globals.d.ts): no Node, only ECMAScript and
// the globals the prelude defines. The control shows the check would catch a name the isolate
// does not have.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../../..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

function typecheck(project: string): { ok: boolean; output: string } {
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output: '' };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('isolate-side JavaScript', () => {
  it('type-checks against what an isolate has', () => {
    const r = typecheck('tsconfig.isolate.json');
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  }, 60_000);

  it('control: a shim using a Node global the isolate lacks is caught', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-isolate-tsc-'));
    try {
      fs.writeFileSync(path.join(dir, 'bad.cjs'), "module.exports = () => process.env.SECRET + require('fs').readFileSync('/etc/passwd');\n");
      const config = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.isolate.json'), 'utf8'));
      config.include = [path.join(root, 'runtime/sandbox/prelude/isolate-globals.d.ts'), path.join(dir, 'bad.cjs')];
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config));
      const r = typecheck(path.join(dir, 'tsconfig.json'));
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/Cannot find name 'process'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
