// A fresh clone's `npm install` must leave package-lock.json as committed: npm rewrites the lock's
// root entry to mirror package.json, so every field it copies has to agree already (an `engines`
// in the lock alone was rewritten on every install).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';

const FIELDS = ['name', 'version', 'license', 'bin', 'engines', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const;

describe('package-lock.json', () => {
  it('its root entry mirrors package.json field by field', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as Record<string, unknown>;
    const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8')) as { name: string; version: string; packages: Record<string, Record<string, unknown>> };
    const root = lock.packages[''];
    expect(lock.name).toBe(pkg.name);
    expect(lock.version).toBe(pkg.version);
    for (const field of FIELDS) expect(root[field], field).toEqual(pkg[field]);
  });
});
