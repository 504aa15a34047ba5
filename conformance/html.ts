// The conformance report page (issue 7 item 5): one self-contained HTML file (inline CSS and JS, no
// external assets) with the matrix program × policy × backend, a colour per cell, and a detail pane
// showing a cell's report lines, the contract's reason for each expectation, the recorded deviations,
// the differential comparison and the coverage listing. Built from the plain-data view (suiteToJson).

import { suiteToJson, type SuiteResult } from './suite.ts';

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON safe inside a <script> element (no "</script>", no U+2028/2029 surprises). */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const CSS = `
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 4px} .sum{font-size:15px;margin:6px 0 12px} .sum b.f{color:#b00020}
table.m{border-collapse:collapse;margin-bottom:12px} table.m th,table.m td{border:1px solid #ccc;padding:3px 8px;text-align:left}
table.m th{background:#eee;position:sticky;top:0} td.c{cursor:pointer;font-family:ui-monospace,monospace;min-width:90px}
td.pass{background:#c8ecc8} td.fail{background:#f4b4b4} td.unavailable{background:#ddd;color:#555} td.dev{background:#e3f0b8}
td.agree{color:#276b27} td.disagree{background:#f4b4b4;font-weight:bold} td.none{color:#aaa}
td.c:hover{outline:2px solid #333} td.sel{outline:3px solid #0050b0}
.wrap{display:flex;gap:12px;align-items:flex-start}
#detail{background:#fff;border:1px solid #bbb;padding:8px 12px;white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px;min-height:60px;position:sticky;top:8px;flex:1;max-height:92vh;overflow:auto}
.l-fail{color:#b00020;font-weight:bold} .l-deviation{color:#6b6b00} .l-unavailable{color:#666} .l-skip{color:#888} .l-pass{color:#276b27}
.legend span{display:inline-block;padding:1px 8px;margin-right:6px;border:1px solid #ccc}
details{margin:10px 0} summary{cursor:pointer;font-weight:bold}
.cov td{padding:1px 8px;border-bottom:1px solid #eee;font-family:ui-monospace,monospace} .unc{color:#b00020;font-weight:bold}
`;

const JS = `
const D = JSON.parse(document.getElementById('data').textContent);
const det = document.getElementById('detail');
function esc(s){return String(s).replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'})[c]);}
function show(td){
  document.querySelectorAll('td.sel').forEach(x=>x.classList.remove('sel'));
  td.classList.add('sel');
  const k = td.dataset;
  if (k.diff !== undefined) {
    const d = D.diffs[+k.diff];
    let h = '<b>differential ' + esc(d.program) + ' × ' + esc(d.policy) + ': ' + esc(d.status) + '</b>\\n' + esc(d.why) + '\\n';
    for (const x of d.disagreements) { h += '\\n<span class="l-fail">DISAGREE ' + esc(x.name) + '</span>: ' + esc(x.why);
      for (const [b, s] of Object.entries(x.sides)) h += '\\n   ' + esc(b) + ': ' + (s ? esc(s.verdict + ' ' + s.detail) : '(no line)'); }
    for (const x of d.explained) h += '\\nexplained ' + esc(x.name) + ' by ' + esc(x.by);
    det.innerHTML = h; return;
  }
  const c = D.cells[+k.cell];
  let h = '<b>' + esc(c.program + ' × ' + c.policy + ' × ' + c.backend + ' (' + c.flavour + '): ' + c.status.toUpperCase()) + '</b>\\n' + esc(c.why) + '\\n';
  for (const p of c.problems) h += '<span class="l-fail">PROBLEM ' + esc(p) + '</span>\\n';
  for (const u of c.unavailable) h += '<span class="l-unavailable">ORACLE-UNAVAILABLE ' + esc(u.check + ': ' + u.detail) + '</span>\\n';
  for (const l of c.lines) {
    h += '<span class="l-' + l.status + '">' + esc(l.status.toUpperCase() + ' ' + l.name + ' ' + l.detail) + '</span>';
    if (l.contract) h += '\\n    contract: ' + esc(l.contract.outcome + (l.contract.rule ? ' [' + l.contract.rule + '] ' + l.contract.reason : ' (legal)'));
    if (l.deviation) h += '\\n    ' + esc(l.deviation.kind + ' ' + l.deviation.id + ': ' + l.deviation.what) + '\\n    evidence: ' + esc(l.deviation.evidence);
    h += '\\n';
  }
  for (const n of c.notes) h += 'NOTE ' + esc(n) + '\\n';
  det.innerHTML = h;
}
document.querySelectorAll('td.c').forEach(td => td.addEventListener('click', () => show(td)));
const first = document.querySelector('td.fail,td.disagree') || document.querySelector('td.c');
if (first) show(first);
`;

interface JsonCell {
  program: string;
  policy: string;
  backend: string;
  status: 'pass' | 'fail' | 'unavailable';
  lines: { status: string }[];
}
interface JsonDiff {
  program: string;
  policy: string;
  status: string;
}

/** The page. Every cell of the result is one <td class="c"> with data-cell (or data-diff) = its index. */
export function renderHtml(r: SuiteResult, opts: { title?: string; generated?: string } = {}): string {
  const data = suiteToJson(r) as {
    cells: JsonCell[];
    diffs: JsonDiff[];
    summary: string;
    backends: { name: string; flavour: string; unavailable?: string; note?: string; policies: { name: string; description: string }[] }[];
    coverage: { uncovered: string[]; rules: { id: string; programs: string[]; skippedIn: string[]; notObservable?: string }[] } | null;
  };
  const backends = r.backends.map((b) => b.name);
  const rows: { program: string; policy: string }[] = [];
  const seen = new Set<string>();
  for (const c of data.cells) {
    const k = `${c.program}\u0000${c.policy}`;
    if (!seen.has(k)) {
      seen.add(k);
      rows.push({ program: c.program, policy: c.policy });
    }
  }
  const cellIndex = new Map(data.cells.map((c, i) => [`${c.program}\u0000${c.policy}\u0000${c.backend}`, i]));
  const diffIndex = new Map(data.diffs.map((d, i) => [`${d.program}\u0000${d.policy}`, i]));
  const body: string[] = [];
  for (const row of rows) {
    const tds = [`<td>${escapeHtml(row.program)}</td>`, `<td>${escapeHtml(row.policy)}</td>`];
    for (const b of backends) {
      const i = cellIndex.get(`${row.program}\u0000${row.policy}\u0000${b}`);
      if (i === undefined) {
        tds.push('<td class="none">–</td>');
        continue;
      }
      const c = data.cells[i]!;
      const dev = c.lines.filter((l) => l.status === 'deviation').length;
      const cls = c.status === 'pass' && dev ? 'pass dev' : c.status;
      tds.push(`<td class="c ${cls}" data-cell="${i}">${escapeHtml(c.status)}${dev ? ` (${dev} dev)` : ''}</td>`);
    }
    if (backends.length > 1) {
      const d = diffIndex.get(`${row.program}\u0000${row.policy}`);
      tds.push(d === undefined ? '<td class="none">–</td>' : `<td class="c ${escapeHtml(data.diffs[d]!.status)}" data-diff="${d}">${escapeHtml(data.diffs[d]!.status)}</td>`);
    }
    body.push(`<tr>${tds.join('')}</tr>`);
  }
  const head = ['program', 'policy', ...backends, ...(backends.length > 1 ? ['kvm ≡ interp'] : [])].map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const policies = data.backends
    .map((b) =>
      b.unavailable
        ? `<li>${escapeHtml(b.name)}: unavailable (${escapeHtml(b.unavailable)})</li>`
        : `<li>${escapeHtml(`${b.name} (${b.flavour})`)}${b.note ? ` — ${escapeHtml(b.note)}` : ''}<ul>${b.policies
            .map((p) => `<li><b>${escapeHtml(p.name)}</b>: ${escapeHtml(p.description)}</li>`)
            .join('')}</ul></li>`,
    )
    .join('');
  const cov = data.coverage
    ? `<details${data.coverage.uncovered.length ? ' open' : ''}><summary>coverage: ${data.coverage.rules.filter((x) => x.programs.length).length}/${data.coverage.rules.length} rules exercised, ${data.coverage.uncovered.length} uncovered</summary><table class="cov">${data.coverage.rules
        .map((x) => {
          const what = x.programs.length
            ? escapeHtml(x.programs.join(' '))
            : x.skippedIn.length
              ? `(skipped only: ${escapeHtml(x.skippedIn.join(' '))})`
              : x.notObservable
                ? `(not guest-observable: ${escapeHtml(x.notObservable)})`
                : '<span class="unc">UNCOVERED</span>';
          return `<tr><td>${escapeHtml(x.id)}</td><td>${what}</td></tr>`;
        })
        .join('')}</table></details>`
    : '<p>coverage: not computed (filtered run)</p>';
  const failed = r.counts.failed > 0;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(opts.title ?? 'tsvmm conformance')}</title>
<style>${CSS}</style></head><body>
<h1>${escapeHtml(opts.title ?? 'tsvmm conformance suite')}</h1>
<div>${escapeHtml(`${r.mode} mode · ${r.programs.length} programs · ${r.cells.length} cells`)}${opts.generated ? ` · ${escapeHtml(opts.generated)}` : ''}</div>
<div class="sum">${failed ? `<b class="f">${escapeHtml(data.summary)}</b>` : escapeHtml(data.summary)}</div>
<div class="legend"><span class="l" style="background:#c8ecc8">pass</span><span style="background:#e3f0b8">pass with recorded deviations</span><span style="background:#f4b4b4">fail / disagree</span><span style="background:#ddd">oracle unavailable</span> click a cell for its report lines and the contract's reasons</div>
<div class="wrap"><table class="m"><thead><tr>${head}</tr></thead><tbody>
${body.join('\n')}
</tbody></table>
<div id="detail">(click a cell)</div></div>
<details><summary>backends and policies</summary><ul>${policies}</ul></details>
${cov}
<script type="application/json" id="data">${scriptJson(data)}</script>
<script>${JS}</script>
</body></html>
`;
}
