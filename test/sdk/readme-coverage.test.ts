// sdk/README.md promises troubleshooting for every refusal the sandbox can give. This reads the
// refusals out of the code — policy rules, load refusal codes, sandbox failure kinds, host error
// codes — and fails when one is added without being documented.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const readme = fs.readFileSync('sdk/README.md', 'utf8');

function sources(dir: string, skip: RegExp | null = null): string {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && /\.(ts|js|cjs)$/.test(d.name))
    .map((d) => path.join(d.parentPath, d.name))
    .filter((f) => !skip || !skip.test(f))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
}

function all(text: string, re: RegExp): string[] {
  return [...new Set([...text.matchAll(re)].map((m) => m[1]))].sort();
}

const hostApi = sources('host-api');
// The installer's own refusals belong to `install`, not to a plugin at load or run time.
const runtime = sources('runtime', /[/\\]install[/\\](?!approval\.ts)|[/\\]admin-ui[/\\]/);

describe('sdk/README.md troubleshooting covers', () => {
  it('every policy rule of the host API', () => {
    const rules = [
      ...all(hostApi, /new PolicyDenied\(\s*'([\w.-]+)'/g),
      ...all(hostApi, /\bdeny\('([\w.-]+)'/g),
      ...all(hostApi, /\brefuse\(\s*'([\w.-]+)'/g),
      ...all(hostApi, /new Refusal\(\s*'([\w.-]+)'/g),
      ...all(hostApi, /\brule: '([\w.-]+)'/g),
      ...all(hostApi, /readonly rule = '([\w.-]+)'/g),
    ];
    expect(rules.length).toBeGreaterThan(30);
    expect(rules.filter((r) => !readme.includes(`\`${r}\``) && !readme.includes(`\`payoutTxs.filter\` / \`.${r.split('.')[1]}\``) && !readme.includes(`/ \`.${r.split('.')[1]}\``))).toEqual([]);
  });

  it('every host-side failure code', () => {
    const codes = [
      ...all(hostApi, /new CapabilityError\(\s*'([\w.-]+)'/g),
      ...all(`${hostApi}\n${runtime}`, /code: '([A-Z_]{4,})'/g),
    ];
    expect(codes).toEqual(expect.arrayContaining(['HOST_DENIED', 'HOST_ERROR', 'NO_CALL', 'TOO_LARGE', 'TOO_MANY_TIMERS', 'timeout', 'dns']));
    expect(codes.filter((c) => !readme.includes(`\`${c}\``))).toEqual([]);
  });

  it('every refusal code of loading a plugin', () => {
    const codes = [
      ...all(runtime, /new PluginRejected\(\s*'([\w]+)'/g),
      ...all(fs.readFileSync('runtime/bundler/bundle-plugin.ts', 'utf8'), /'(computed_require|forbidden_require|syntax_error)'/g),
      ...all(fs.readFileSync('runtime/plugins/load-plugin.ts', 'utf8'), /'(manifest_\w+)'/g),
    ];
    expect(codes).toEqual(expect.arrayContaining(['bad_key', 'computed_require', 'forbidden_require', 'manifest_invalid', 'manifest_timeout', 'missing_method', 'tampered']));
    expect(codes.filter((c) => !readme.includes(`\`${c}\``))).toEqual([]);
  });

  it('every sandbox failure kind', () => {
    const protocol = fs.readFileSync('runtime/sandbox/protocol.ts', 'utf8');
    const union = /export type FailureKind =([^;]+);/.exec(protocol)?.[1] ?? '';
    const kinds = all(union, /'([a-z_]+)'/g);
    expect(kinds.length).toBeGreaterThan(8);
    expect(kinds.filter((k) => !readme.includes(`| \`${k}\` |`))).toEqual([]);
  });

  it('every message the SDK and platform result checks give inside the sandbox', () => {
    const prelude = fs.readFileSync('runtime/sandbox/prelude/plugin-calls.isolate.js', 'utf8');
    const messages = all(prelude, /new ErrorCtor\('([^']+?)(?:'|\s*\+)/g).map((m) => m.replace(/\s+$/, ''));
    expect(messages.length).toBeGreaterThan(10);
    expect(messages.filter((m) => !readme.replace(/\s+/g, ' ').includes(m.replace(/\s+/g, ' ')))).toEqual([]);
  });

  it('links that resolve to real sections of the main README', () => {
    const main = fs.readFileSync('README.md', 'utf8');
    const anchors = new Set([...main.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].toLowerCase().replace(/[^\w\s-]/g, '').trim().replace(/\s+/g, '-')));
    const links = all(readme, /\(\.\.\/README\.md#([\w-]+)\)/g);
    expect(links.length).toBeGreaterThan(2);
    expect(links.filter((l) => !anchors.has(l))).toEqual([]);
  });
});
