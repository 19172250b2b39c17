// A table from bundle lines to the plugin's own files and lines, appended to a platform plugin's
// bundle so that code inside the isolate (the db shim) can say which plugin line made a refused call
// ("index.js:42: Cast to date failed …"). The isolate has no source map; this table keeps only what
// that needs: mappings into the plugin's files (not libraries, not shims), and only where the source
// line changes along a bundle line. The trailing statement also records its own stack position, so the
// shim learns how many lines the sandbox's script wrapper adds before the bundle.
import path from 'node:path';
import { SourceMapReader } from './source-map.ts';

export const SOURCE_LINES_GLOBAL = '__ps_source_lines';

/** `;`-separated `lineDelta,column,fileIndex,sourceLine` entries, sorted by bundle line and column. */
export function callSiteTable(mapJson: string, pluginDir: string): { files: string[]; map: string } {
  const files: string[] = [];
  const fileIndex = new Map<string, number>();
  // Per source name, once: path.relative for each of a bundle's thousands of mappings was most of
  // the time a plugin's bundling spent outside esbuild (≈2 ms of a never-seen plugin's start-up).
  const fileOfSource = new Map<string, number>();
  const parts: string[] = [];
  let lastLine = 0;
  let last: { line: number; file: number; sourceLine: number } | null = null;
  for (const m of new SourceMapReader(mapJson).mappings()) {
    let file = fileOfSource.get(m.source);
    if (file === undefined) {
      if (!m.source.startsWith('plugin:')) file = -1;
      else {
        const rel = path.relative(pluginDir, m.source.slice('plugin:'.length)).split(path.sep).join('/');
        file = fileIndex.get(rel);
        if (file === undefined) {
          file = files.push(rel) - 1;
          fileIndex.set(rel, file);
        }
      }
      fileOfSource.set(m.source, file);
    }
    if (file < 0) continue;
    if (last && last.line === m.line && last.file === file && last.sourceLine === m.sourceLine) continue;
    parts.push(`${m.line - lastLine},${m.column},${file},${m.sourceLine}`);
    lastLine = m.line;
    last = { line: m.line, file, sourceLine: m.sourceLine };
  }
  return { files, map: parts.join(';') };
}

/** The bundle with the table appended as its last line. */
export function withCallSites(code: string, mapJson: string, pluginDir: string): string {
  const table = callSiteTable(mapJson, pluginDir);
  const body = code.endsWith('\n') ? code : `${code}\n`;
  const anchorLine = body.split('\n').length;
  return `${body}globalThis.${SOURCE_LINES_GLOBAL} = Object.freeze({ files: ${JSON.stringify(table.files)}, map: ${JSON.stringify(table.map)}, anchorLine: ${anchorLine}, anchor: new Error().stack });\n`;
}
