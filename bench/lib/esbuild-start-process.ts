// Times esbuild's service start in a fresh process (esbuild-start.ts): the bundler's first build
// in a server process starts esbuild's service (a child process speaking esbuild's protocol),
// which every later build reuses. Prints one JSON line: the module import, the first
// transform (service start included), and a second one (the service already running).
const t0 = performance.now();
const esbuild = await import('esbuild');
const t1 = performance.now();
await esbuild.transform('export const a = 1;', { format: 'cjs' });
const t2 = performance.now();
await esbuild.transform('export const a = 1;', { format: 'cjs' });
const t3 = performance.now();
process.stdout.write(`${JSON.stringify({ importMs: t1 - t0, firstMs: t2 - t1, secondMs: t3 - t2 })}\n`);
await esbuild.stop();
