// Tests of the report page writer: self-contained (no external assets), well-formed, one clickable cell
// per matrix cell and per differential result, hostile report text escaped, the data island parseable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuidTable } from '../src/arch/x86/cpuid/table.ts';
import { escapeHtml, renderHtml } from './html.ts';
import { differential } from './differential.ts';
import { countResults, formatMatrix, formatSuite, summaryLine, suiteToJson, type SuiteResult } from './suite.ts';
import { runCell, type CellResult, type Policy } from './runner.ts';

const POLICY = (name: string): Policy => ({ name, description: `--cpu ${name}`, cpuid: new CpuidTable([]) });

async function cell(program: string, policy: string, backend: string, lines: string[]): Promise<CellResult> {
  const fails = lines.filter((l) => l.startsWith('FAIL')).length;
  const serial = [
    `TSVMM-BEGIN ${program} entry=long64`,
    'TSVMM-CPUID 0x0 0x0 0xd 0x0 0x0 0x0',
    ...lines.map((l) => `TSVMM-REPORT ${l}`),
    `TSVMM-SUMMARY passed=${lines.length - fails} failed=${fails} skipped=0`,
    '',
  ].join('\n');
  return runCell(async () => ({ outcome: 'debug-exit', exitCode: fails ? 3 : 1, serial, detail: '' }), {
    program,
    image: new Uint8Array(1),
    policy: POLICY(policy),
    backend,
    flavour: backend === 'kvm' ? 'kvm_pvm' : 'none',
    deviations: [],
  });
}

async function result(): Promise<SuiteResult> {
  const cells = [
    await cell('cr4', 'host', 'kvm', ['PASS cr4.SMEP bit20 expect=ok got=ok']),
    await cell('cr4', 'host', 'interp', ['PASS cr4.SMEP bit20 expect=ok got=ok']),
    await cell('cr4', '-smep', 'interp', ['FAIL cr4.SMEP bit20 <script>alert(1)</script> expect=#GP got=ok']),
    await cell('efer', 'host', 'kvm', ['PASS efer.NXE bit11 expect=ok got=ok']),
    await cell('efer', 'host', 'interp', ['FAIL efer.NXE bit11 expect=ok got=#GP']),
  ];
  const diffs = differential(cells);
  return {
    mode: 'kvm-exact',
    programs: ['cr4', 'efer'],
    backends: [
      { name: 'kvm', flavour: 'kvm_pvm', policies: [{ name: 'host', description: '--cpu host' }] },
      { name: 'interp', flavour: 'none', policies: [{ name: 'host', description: '--cpu host' }, { name: '-smep', description: '--cpu host,-smep' }] },
    ],
    jobs: [],
    cells,
    diffs,
    counts: countResults(cells, diffs),
  };
}

test('the page is self-contained, well-formed, and has every cell and differential result', async () => {
  const r = await result();
  const html = renderHtml(r, { generated: 'test' });
  assert.match(html, /^<!DOCTYPE html>\n<html lang="en">/);
  assert.ok(html.trimEnd().endsWith('</html>'));
  assert.doesNotMatch(html, /<(link|img|iframe)\b|\bsrc=|https?:\/\//i, 'no external assets');
  for (const tag of ['tr', 'td', 'th', 'table', 'script', 'style', 'details', 'summary', 'ul', 'li', 'div'])
    assert.equal((html.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length, (html.match(new RegExp(`</${tag}>`, 'g')) ?? []).length, `<${tag}> balanced`);
  for (let i = 0; i < r.cells.length; i++) assert.match(html, new RegExp(`data-cell="${i}"`), `cell ${i}`);
  for (let i = 0; i < r.diffs.length; i++) assert.match(html, new RegExp(`data-diff="${i}"`), `diff ${i}`);
  assert.equal((html.match(/<td class="c /g) ?? []).length, r.cells.length + r.diffs.length);
  // colours: a failing cell and a passing one, a disagreeing differential
  assert.match(html, /<td class="c fail" data-cell="2">/);
  assert.match(html, /<td class="c pass" data-cell="0">/);
  assert.match(html, /<td class="c disagree" data-diff="1">/);
  // the report text is never live markup: only the page's own two scripts exist
  assert.equal((html.match(/<script/g) ?? []).length, 2);
  assert.doesNotMatch(html, /<script>alert/);
  const island = /<script type="application\/json" id="data">([\s\S]*?)<\/script>/.exec(html);
  assert.ok(island);
  const data = JSON.parse(island[1]!) as { cells: { lines: { detail: string }[] }[]; summary: string };
  assert.equal(data.cells.length, r.cells.length);
  assert.match(data.cells[2]!.lines[0]!.detail, /<script>alert\(1\)<\/script>/, 'the data keeps the text; the page escapes it when shown');
  assert.equal(data.summary, summaryLine(r.counts));
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('the text table and the summary: one row per program × policy, counts of cells and disagreements', async () => {
  const r = await result();
  const table = formatMatrix(r);
  assert.match(table[0]!, /^program\s+policy\s+kvm\s+interp\s+kvm≡interp$/);
  assert.equal(table.length, 2 + 3, 'header, rule, three rows');
  assert.match(table.find((l) => l.startsWith('efer'))!, /efer\s+host\s+pass\s+FAIL\s+disagree/);
  assert.match(table.find((l) => l.includes('-smep'))!, /cr4\s+-smep\s+-\s+FAIL/);
  // 3 passing cells + 1 agreeing differential; 2 failing cells + 1 disagreement
  assert.deepEqual(r.counts, { passed: 4, failed: 3, skipped: 0 });
  assert.equal(summaryLine(r.counts), '4 passed, 3 failed');
  assert.equal(summaryLine({ passed: 1, failed: 0, skipped: 2 }), '1 passed, 0 failed, 2 skipped');
  const text = formatSuite(r);
  assert.equal(text.at(-1), '4 passed, 3 failed');
  assert.ok(text.some((l) => /FAIL\s+efer\.NXE/.test(l)));
  assert.ok(text.some((l) => /contract for efer\.NXE: /.test(l)), 'failing lines carry the contract verdict');
  const json = JSON.parse(JSON.stringify(suiteToJson(r))) as { cells: unknown[]; counts: unknown };
  assert.equal(json.cells.length, 5);
});
