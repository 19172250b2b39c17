// What the CLI tests start from: the command line run as a child process, and an author's project
// (a temporary folder) that has payout-sandbox installed, as `npm link` or a file: dependency would.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

export const REPO = path.resolve(import.meta.dirname, '../../..');
export const BIN = path.join(REPO, 'runtime/cli/bin.js');

const run = promisify(execFile);

export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * `payout-sandbox <args>` in a child process, with its exit code and output. Its environment is
 * `base` (default: this process's) without `unset`, plus `env`.
 */
export async function cli(args: string[], o: { env?: Record<string, string>; unset?: string[]; base?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const base = { ...(o.base ?? process.env) };
  for (const name of o.unset ?? []) delete base[name];
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 60_000, env: { ...base, ...o.env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * This process's environment without vitest's variables and NODE_OPTIONS (which would make a child
 * node run as a test worker), and without `drop`.
 */
export function childEnv(drop: string[] = []): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && !drop.includes(k)));
}

/**
 * A fresh author's project: package.json, node_modules/payout-sandbox → this checkout, and each of
 * `links` (e.g. '@types', 'vitest') linked from this checkout's node_modules. The caller removes it.
 */
export function authorProject(prefix: string, links: string[] = []): string {
  const project = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'author', private: true, type: 'module' }));
  fs.mkdirSync(path.join(project, 'node_modules'));
  fs.symlinkSync(REPO, path.join(project, 'node_modules', 'payout-sandbox'));
  for (const name of links) fs.symlinkSync(path.join(REPO, 'node_modules', name), path.join(project, 'node_modules', name));
  return project;
}
