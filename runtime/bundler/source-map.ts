// Reads esbuild's source map to answer "which plugin file and line produced this bundle line".
// Used to point at a plugin's own source in refusals and in error stack traces.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export interface OriginalPosition { source: string; line: number; column: number }

function decodeVlq(segment: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of segment) {
    const digit = B64_INDEX.get(ch);
    if (digit === undefined) throw new Error(`source map: invalid character '${ch}'`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

export class SourceMapReader {
  private readonly sources: string[];
  /** Per generated line (0-based): segments [generatedColumn, sourceIndex, originalLine, originalColumn]. */
  private readonly lines: number[][][] = [];

  constructor(mapJson: string) {
    const map = JSON.parse(mapJson) as { sources: string[]; mappings: string };
    this.sources = map.sources;
    let source = 0;
    let origLine = 0;
    let origCol = 0;
    for (const lineText of map.mappings.split(';')) {
      let genCol = 0;
      const segments: number[][] = [];
      for (const seg of lineText.split(',')) {
        if (!seg) continue;
        const v = decodeVlq(seg);
        genCol += v[0];
        if (v.length >= 4) {
          source += v[1];
          origLine += v[2];
          origCol += v[3];
          segments.push([genCol, source, origLine, origCol]);
        }
      }
      this.lines.push(segments);
    }
  }

  /** Every mapping: bundle line (1-based) and column, the source's name, its line (1-based). */
  *mappings(): Generator<{ line: number; column: number; source: string; sourceLine: number }> {
    for (const [i, segments] of this.lines.entries()) {
      for (const s of segments) yield { line: i + 1, column: s[0], source: this.sources[s[1]], sourceLine: s[2] + 1 };
    }
  }

  /** line is 1-based, column 0-based, like V8 stack frames minus one on the column. */
  originalPositionFor(line: number, column: number): OriginalPosition | null {
    const segments = this.lines[line - 1];
    if (!segments || !segments.length) return null;
    let best: number[] | null = null;
    for (const s of segments) {
      if (s[0] <= column) best = s;
      else break;
    }
    best ??= segments[0];
    return { source: this.sources[best[1]], line: best[2] + 1, column: best[3] };
  }
}
