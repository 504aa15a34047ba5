// The SVG writer: escaping, and well-formed XML checked by a small tokenizer (every tag closed in
// order, attributes quoted, no raw '<' or bare '&' in text).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { el, escapeXml, ratioChart, svgDocument } from './svg.ts';

/** Throws unless `xml` is one well-formed element tree after an optional XML declaration. */
function assertWellFormed(xml: string): { elements: number; names: Map<string, number> } {
  let s = xml.replace(/^<\?xml [^?]*\?>\s*/, '');
  const stack: string[] = [];
  const names = new Map<string, number>();
  let elements = 0;
  let roots = 0;
  while (s.length) {
    const lt = s.indexOf('<');
    const text = lt < 0 ? s : s.slice(0, lt);
    assert.ok(!/&(?!(lt|gt|amp|apos|quot);)/.test(text), `bare & in text: ${text.slice(0, 40)}`);
    if (stack.length === 0) assert.equal(text.trim(), '', 'text outside the root element');
    if (lt < 0) break;
    s = s.slice(lt);
    const close = /^<\/([A-Za-z_][-\w.:]*)\s*>/.exec(s);
    if (close) {
      assert.equal(stack.pop(), close[1], `closing </${close[1]}>`);
      s = s.slice(close[0].length);
      continue;
    }
    const open = /^<([A-Za-z_][-\w.:]*)((?:\s+[A-Za-z_:][-\w.:]*="[^"<]*")*)\s*(\/?)>/.exec(s);
    assert.ok(open, `bad tag at: ${s.slice(0, 60)}`);
    const attrNames = [...open[2]!.matchAll(/([A-Za-z_:][-\w.:]*)=/g)].map((m) => m[1]!);
    assert.equal(new Set(attrNames).size, attrNames.length, `duplicate attribute in <${open[1]}>`);
    for (const v of open[2]!.matchAll(/="([^"]*)"/g)) assert.ok(!/&(?!(lt|gt|amp|apos|quot);)/.test(v[1]!), 'bare & in attribute');
    elements++;
    names.set(open[1]!, (names.get(open[1]!) ?? 0) + 1);
    if (stack.length === 0) roots++;
    if (!open[3]) stack.push(open[1]!);
    s = s.slice(open[0].length);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
  assert.equal(roots, 1, 'exactly one root element');
  return { elements, names };
}

test('escaping of text and attributes', () => {
  assert.equal(escapeXml(`a<b>&"c'`), 'a&lt;b&gt;&amp;&quot;c&apos;');
  assert.equal(el('text', { x: 1.234, title: 'A & B' }, { text: '<1>' }), '<text x="1.23" title="A &amp; B">&lt;1&gt;</text>');
  assert.equal(el('rect', { width: 3, skip: undefined }), '<rect width="3"/>');
  assert.throws(() => el('g', { 'bad name': 1 }), /bad SVG attribute name/);
});

test('the well-formedness checker rejects broken documents', () => {
  assert.throws(() => assertWellFormed('<svg><g></svg>'));
  assert.throws(() => assertWellFormed('<svg><text>a & b</text></svg>'));
  assert.throws(() => assertWellFormed('<svg x=1></svg>'));
  assert.throws(() => assertWellFormed('<a/><b/>'));
});

test('ratio chart: well-formed, one bar per finite ratio, hostile labels escaped', () => {
  const rows = [
    { label: 'alu64', ratios: new Map([['QEMU TCG', 0.002], ['Bochs <2.7> & co', 0.5]]) },
    { label: 'smc32', ratios: new Map([['QEMU TCG', 5.2], ['Bochs <2.7> & co', NaN]]) },
  ];
  const svg = ratioChart('tsvmm vs "peers"', rows, ['QEMU TCG', 'Bochs <2.7> & co']);
  const { names } = assertWellFormed(svg);
  // 3 data bars + 2 legend swatches
  assert.equal(names.get('rect'), 5);
  assert.match(svg, /Bochs &lt;2\.7&gt; &amp; co/);
  assert.ok(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"'));
});

test('empty chart is still a document', () => {
  assertWellFormed(ratioChart('nothing', [], []));
  assertWellFormed(svgDocument(10, 10, []));
});
