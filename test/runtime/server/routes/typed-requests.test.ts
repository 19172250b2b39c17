// Request data is typed by the route's schema (the TypeBox type provider), never by a cast: a cast
// tells the compiler "trust me" about bytes an outside caller chose, and stays silent when the
// schema and the handler drift apart. This test reads every source file of the HTTP server and
// fails on a type assertion applied to request.body, request.params or request.query (req. too),
// in any of its forms. Data a route does not validate is typed `unknown` and checked in the
// handler; a hook that runs before validation reads it through a checked helper.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
const SCANNED = 'runtime/server';

const REQUEST = String.raw`\b(?:req|request)`;
const DATA = String.raw`${REQUEST}(?:\.(?:body|params|query)\b|\[\s*['"](?:body|params|query)['"]\s*\])`;
const CAST_PATTERNS = [
  // request.body as T; (request.params as T).key; (request.query ?? {}) as T; request.body!; request['body'] as T
  new RegExp(String.raw`${DATA}(?:\s*(?:\?\?|\|\|)\s*[^()\n;]{1,20}?)?\s*\)?\s*(?:\bas\b|!(?!=))`, 'g'),
  // <T>request.body
  new RegExp(String.raw`<[^<>()\n]+>\s*${DATA}`, 'g'),
  // The whole request cast, which reaches the same data: (request as any).body, <any>request (an
  // expression, so that "the request as sent" in a comment is not one)
  new RegExp(String.raw`(?:[(=,:?]|\breturn)\s*${REQUEST}\s+as\b|<[^<>()\n]+>\s*${REQUEST}\b`, 'g'),
];

/** Every line of `files` (repository-relative path → source) with a cast on request data, as `file:line: text`. */
function requestCasts(files: ReadonlyMap<string, string>): string[] {
  const found = new Map<string, string>();
  for (const [file, source] of files) {
    for (const re of CAST_PATTERNS) {
      for (const m of source.matchAll(re)) {
        const where = `${file}:${source.slice(0, m.index).split('\n').length}`;
        if (!found.has(where)) found.set(where, `${where}: ${m[0].trim()}`);
      }
    }
  }
  return [...found.values()].sort();
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sourceFiles(rel));
    else if (/\.[cm]?ts$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

describe('typed request data (the TypeBox type provider)', () => {
  it('no route or hook of the server casts request.body, request.params or request.query', () => {
    const files = new Map(sourceFiles(SCANNED).map((f) => [f, fs.readFileSync(path.join(ROOT, f), 'utf8')]));
    // The scan found the route modules, not an empty folder.
    expect([...files.keys()].filter((f) => f.startsWith(`${SCANNED}/routes/`)).length).toBeGreaterThan(5);
    expect(requestCasts(files)).toEqual([]);
  });

  it('positive control: every form of a cast is found, and typed or checked reads are not', () => {
    const synthetic = new Map([
      ['a.ts', 'const b = request.body as { id: string };'],
      ['b.ts', 'const e = entryOr404(host, (request.params as { key: string }).key);'],
      ['c.ts', 'const q = (request.query ?? {}) as Record<string, unknown>;'],
      ['d.ts', "const lang = String((request.params as { lang?: unknown } | undefined)?.lang ?? '');"],
      ['e.ts', 'keyGenerator: (req) => `k:${(req.params as Params).payoutKey}`,'],
      ['f.ts', 'const id = request.body!.id;'],
      ['g.ts', 'const q = <Query>request.query;'],
      ['h.ts', 'const b = request.body  as\n  Body;'],
      ['i.ts', "const b = request['body'] as Body;"],
      ['j.ts', 'const { key } = (request as unknown as { params: { key: string } }).params;'],
      ['k.ts', 'const q = (<any>req).query;'],
      // Allowed: typed by the provider, checked by hand, compared, passed on as unknown.
      ['ok.ts', [
        'const { key } = request.params;',
        'const body: unknown = request.body;',
        'if (request.body !== undefined) check(request.body);',
        'await orders.create(request.body, { ip: request.ip });',
        'const hash = given(typeof contentHash === "string" ? contentHash : undefined);',
        'const alias = request.query.plugin; // "as" in a comment after the read is not a cast',
        'const ip = request.ip; const x = y as Z;',
        'requestAsJson(request);',
        '// answers the request as sent, and the req as given',
      ].join('\n')],
    ]);
    const found = requestCasts(synthetic).map((f) => f.split(':')[0]);
    expect(found).toEqual(['a.ts', 'b.ts', 'c.ts', 'd.ts', 'e.ts', 'f.ts', 'g.ts', 'h.ts', 'i.ts', 'j.ts', 'k.ts']);
  });
});
