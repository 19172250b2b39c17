// `payout-sandbox typecheck`: a scaffolded plugin typechecks against the SDK types; reading a
// secret key with ctx.config.get is reported with file:line and fails the command.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scaffoldPlugin } from '../../../runtime/cli/commands/new.ts';
import { BIN, authorProject, childEnv } from './cli-fixture.ts';

const project = authorProject('ps-typecheck-', ['@types']);
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

const typecheck = (dir: string) => spawnSync(process.execPath, [BIN, 'typecheck', dir], { cwd: project, env: childEnv(), encoding: 'utf8', timeout: 120_000 });

describe('payout-sandbox typecheck', () => {
  it('passes the scaffold, and names the line that reads a secret key', () => {
    const { dir } = scaffoldPlugin({ name: 'typed-pay', dir: path.join(project, 'plugins') });
    const ok = typecheck(dir);
    expect(ok.stdout + ok.stderr).toBe('types: ok (1 file)\n');
    expect(ok.status).toBe(0);

    const file = path.join(dir, 'plugin.ts');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    const at = lines.findIndex((l) => l.includes("const base = String((await ctx.config.get('apiUrl'))"));
    expect(at).toBeGreaterThan(0);
    lines.splice(at + 1, 0, "  const leaked = await ctx.config.get('webhookSecret');");
    fs.writeFileSync(file, lines.join('\n'));
    const bad = typecheck(dir);
    expect(bad.stdout).toContain(`plugin.ts:${at + 2}:39 TS2345 Argument of type '"webhookSecret"' is not assignable to parameter of type '"apiUrl"'.`);
    expect(bad.stdout).toMatch(/1 type error in /);
    expect(bad.status).toBe(1);
  }, 150_000);
});
