// A small SVG writer (W3C SVG 1.1: <svg>, <g>, <rect>, <line>, <text>) and the benchmark's chart: the
// ratio tsvmm / peer per workload variant as grouped horizontal bars on a log2 axis, with the 1.0 line.

export type Attrs = Readonly<Record<string, string | number | undefined>>;

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => {
      if (!/^[a-zA-Z_:][-a-zA-Z0-9_:.]*$/.test(k)) throw new Error(`bad SVG attribute name '${k}'`);
      const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '0') : v!;
      return ` ${k}="${escapeXml(s)}"`;
    })
    .join('');
}

/** One element; `children` are already-serialized elements, `text` is escaped. */
export function el(name: string, a: Attrs = {}, content: { children?: readonly string[]; text?: string } = {}): string {
  const inner = (content.children ?? []).join('') + (content.text !== undefined ? escapeXml(content.text) : '');
  return inner ? `<${name}${attrs(a)}>${inner}</${name}>` : `<${name}${attrs(a)}/>`;
}

export function svgDocument(width: number, height: number, children: readonly string[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    el('svg', { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': 'sans-serif', 'font-size': 12 }, { children }) +
    '\n'
  );
}

export interface RatioRow {
  /** e.g. "alu64" */
  readonly label: string;
  /** peer label → ratio (NaN or missing = no figure) */
  readonly ratios: ReadonlyMap<string, number>;
}

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1'];

/** Grouped bars of tsvmm / peer, log2 scale from 1/4096 to 4 (clamped), one colour per peer. */
export function ratioChart(title: string, rows: readonly RatioRow[], peers: readonly string[]): string {
  const left = 110;
  const plotW = 520;
  const bar = 12;
  const groupGap = 10;
  const top = 60;
  const lo = -12;
  const hi = 2;
  const x = (r: number): number => left + ((Math.min(hi, Math.max(lo, Math.log2(r))) - lo) / (hi - lo)) * plotW;
  const groupH = Math.max(1, peers.length) * bar + groupGap;
  const height = top + rows.length * groupH + 40 + peers.length * 16;
  const width = left + plotW + 80;
  const parts: string[] = [el('text', { x: 10, y: 20, 'font-size': 14, 'font-weight': 'bold' }, { text: title })];
  parts.push(el('text', { x: 10, y: 38, fill: '#555' }, { text: 'ratio tsvmm / peer (median MIPS), log2 scale; right of the 1.0 line = tsvmm faster' }));
  for (let e = lo; e <= hi; e += 2) {
    const xv = x(2 ** e);
    parts.push(el('line', { x1: xv, y1: top - 5, x2: xv, y2: top + rows.length * groupH, stroke: e === 0 ? '#000' : '#ddd', 'stroke-width': e === 0 ? 1.5 : 1 }));
    parts.push(el('text', { x: xv, y: top - 8, 'text-anchor': 'middle', fill: '#555' }, { text: e >= 0 ? String(2 ** e) : `1/${2 ** -e}` }));
  }
  rows.forEach((row, i) => {
    const y0 = top + i * groupH;
    parts.push(el('text', { x: left - 6, y: y0 + (peers.length * bar) / 2 + 4, 'text-anchor': 'end' }, { text: row.label }));
    peers.forEach((p, j) => {
      const r = row.ratios.get(p);
      if (r === undefined || !Number.isFinite(r) || r <= 0) return;
      const x0 = x(2 ** lo);
      parts.push(el('rect', { x: x0, y: y0 + j * bar, width: Math.max(1, x(r) - x0), height: bar - 2, fill: PALETTE[j % PALETTE.length] }));
      parts.push(el('text', { x: x(r) + 3, y: y0 + j * bar + bar - 3, 'font-size': 9 }, { text: r >= 0.1 ? r.toFixed(2) : r.toPrecision(2) }));
    });
  });
  const ly = top + rows.length * groupH + 20;
  peers.forEach((p, j) => {
    parts.push(el('rect', { x: left, y: ly + j * 16, width: 12, height: 12, fill: PALETTE[j % PALETTE.length] }));
    parts.push(el('text', { x: left + 18, y: ly + j * 16 + 10 }, { text: `tsvmm / ${p}` }));
  });
  return svgDocument(width, height, parts);
}
