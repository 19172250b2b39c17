// The package an outside author installs: `npm run build` writes dist/ — JavaScript and .d.ts
// for the SDK, the test kit and the runtime they drive, the non-TypeScript files they read at run
// time, and a package.json whose exports point at that JavaScript. `npm run package` packs it.
// Why: Node does not strip types of files under node_modules, so a package of .ts files cannot be
// imported by anyone who installs it. The repository itself runs its .ts directly (no build).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE_DIRS = ['runtime', 'host-api', 'sdk', 'bench'];
/** Package subpaths → the module under sdk/ they load. */
const ENTRY_POINTS = ['index', 'testkit', 'platform', 'fake-provider'];

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const full = path.join(dir, d.name);
    return d.isDirectory() ? walk(full) : [full];
  });
}

/** Relative `.ts` specifiers in declarations become `.js`, as in the emitted JavaScript. */
export function rewriteDeclarationSpecifiers(text: string): string {
  return text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+?)\.ts\2/g, '$1$2$3.js$2');
}

export function buildPackage(out = path.join(root, 'dist'), log: (line: string) => void = () => {}): string {
  fs.rmSync(out, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const compiled = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out], { cwd: root, encoding: 'utf8' });
  if (compiled.status !== 0) throw new Error(`build: tsc failed:\n${compiled.stdout}${compiled.stderr}`);
  log('compiled runtime, host-api and sdk to JavaScript and .d.ts');

  let copied = 0;
  for (const dir of SOURCE_DIRS) {
    for (const file of walk(path.join(root, dir))) {
      const rel = path.relative(root, file);
      if (rel.startsWith(path.join('sdk', 'build'))) continue;
      if (file.endsWith('.ts') && !file.endsWith('.d.ts')) continue;
      // Prelude sources, shims, the admin UI, scaffold templates, icons, the SDK guide.
      fs.mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
      fs.copyFileSync(file, path.join(out, rel));
      copied++;
    }
  }
  for (const file of walk(out).filter((f) => f.endsWith('.d.ts'))) {
    fs.writeFileSync(file, rewriteDeclarationSpecifiers(fs.readFileSync(file, 'utf8')));
  }
  fs.copyFileSync(path.join(root, 'README.md'), path.join(out, 'README.md'));
  log(`copied ${copied} run-time files`);

  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const exports: Record<string, unknown> = { './package.json': './package.json' };
  for (const entry of ENTRY_POINTS) {
    exports[entry === 'index' ? './sdk' : `./sdk/${entry}`] = { types: `./sdk/${entry}.d.ts`, default: `./sdk/${entry}.js` };
  }
  const published = {
    name: pkg.name, version: pkg.version, description: pkg.description, type: 'module', license: pkg.license,
    engines: { node: '>=24' },
    bin: { 'payout-sandbox': 'runtime/cli/bin.js' },
    exports,
    dependencies: pkg.dependencies,
    // The runtime's own tests, benchmarks and the typescript compiler stay in the repository.
    peerDependencies: { vitest: pkg.devDependencies.vitest, typescript: pkg.devDependencies.typescript },
    peerDependenciesMeta: { vitest: { optional: true }, typescript: { optional: true } },
    allowScripts: pkg.allowScripts,
  };
  fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
  log(`wrote ${path.relative(root, out) || out}/package.json (exports: ${Object.keys(exports).join(', ')})`);
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const out = buildPackage(process.argv[2] ? path.resolve(process.argv[2]) : undefined, (l) => process.stdout.write(`build: ${l}\n`));
    process.stdout.write(`build: done; pack it with: npm pack ${path.relative(process.cwd(), out) || '.'}\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
