// `tsvmm mmu explain` (src/cli/commands/mmu.ts) on page-table images written to temporary files:
// the walk report, the fault explanation, JSON output, exit statuses and bad-input errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli/main.ts';
import type { CliIo } from '../cli/io.ts';
import { P, PageTableBuilder, RW, TestMem, US, XD, type BuilderMode } from './test-pagetables.ts';

function capture(): { io: CliIo; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => void out.push(t), err: (t) => void err.push(t) }, out, err };
}

function image(mode: BuilderMode, build: (pt: PageTableBuilder) => void): { dir: string; file: string; root: number } {
  const mem = new TestMem(4 << 20);
  const pt = new PageTableBuilder(mem, mode, 0x100000);
  build(pt);
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-mmu-'));
  const file = join(dir, 'pt.bin');
  writeFileSync(file, new Uint8Array(mem.view.buffer, 0x100000, 0x20000));
  return { dir, file, root: pt.root };
}

test('explain: a 4-level walk lists every level, the rights and the A/D bits the access sets', async () => {
  const { dir, file, root } = image('4level', (pt) => pt.map(0x7f00_1234_5000n, 0x0abc_d000n, { leaf: P | RW | US }));
  try {
    const c = capture();
    const rc = await main(['mmu', 'explain', '--mode', '4level', '--image', `${file}@0x100000`, '--cr3', `0x${root.toString(16)}`, '--addr', '0x7f0012345678', '--access', 'write', '--user'], c.io);
    const text = c.out.join('\n');
    assert.equal(rc, 0, text + c.err.join('\n'));
    for (const name of ['PML4E', 'PDPTE', 'PDE', 'PTE']) assert.match(text, new RegExp(`\\b${name}\\b`));
    assert.match(text, /physical 0xabcd678 \(4 KiB page\)/);
    assert.match(text, /user, writable, executable/);
    assert.match(text, /PTE\.D/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('explain: a fault names the vector, error code, CR2 and the rule (exit 1); --json carries the same', async () => {
  const { dir, file, root } = image('4level', (pt) => pt.map(0x4000_0000n, 0x20_0000n, { leaf: P | US | XD }));
  try {
    const args = ['mmu', 'explain', '--mode', '4level', '--efer', '0x800', '--image', `${file}@1048576`, '--cr3', String(root), '--addr', '0x40000010'];
    const c = capture();
    assert.equal(await main([...args, '--access', 'fetch'], c.io), 1);
    const text = c.out.join('\n');
    assert.match(text, /#PF, error code 0x11 \(P\|ID\), CR2=0x0000000040000010/);
    assert.match(text, /execute-disable/);
    const j = capture();
    assert.equal(await main([...args, '--access', 'write', '--user', '--json'], j.io), 1);
    const doc = JSON.parse(j.out.join('\n'));
    assert.equal(doc.result.ok, false);
    assert.equal(doc.result.vector, 14);
    assert.equal(doc.result.errorCode, 7);
    assert.equal(doc.result.levels.length, 4);
    assert.equal(doc.input.mode, '4level');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('explain: 32-bit with PSE, reserved bits reported per level', async () => {
  const { dir, file, root } = image('32bit', (pt) => {
    pt.map(0x8040_0000n, 0x40_0000n, { size: 22 });
    pt.modify(0x8040_0000n, 2, 1n << 18n); // bit 18 is reserved in a 4-MiB PDE (PSE-36)
  });
  try {
    const c = capture();
    const rc = await main(['mmu', 'explain', '--mode', '32bit', '--cr4', '0x10', '--image', `${file}@0x100000`, '--cr3', `${root}`, '--addr', '0x80400000'], c.io);
    const text = c.out.join('\n');
    assert.equal(rc, 1);
    assert.match(text, /reserved bit\(s\) set: 18/);
    assert.match(text, /RSVD/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('explain: bad input gets a clear error and a stable code, never a crash', async () => {
  const cases: [string[], RegExp][] = [
    [['--cr3', '0', '--addr', '0'], /--image FILE\[@BASE\] is required/],
    [['--image', '/nonexistent/x.bin', '--cr3', '0', '--addr', '0'], /cannot read '\/nonexistent\/x.bin'.*MMU_IMAGE/],
    [['--image', 'x@zz', '--cr3', '0', '--addr', '0'], /the base must be/],
    [['--image', 'x', '--cr3', '0x1g', '--addr', '0'], /--cr3: '0x1g' is not a 64-bit number.*MMU_USAGE/],
    [['--image', 'x', '--cr3', '0', '--addr', '0', '--mode', 'six'], /--mode must be one of/],
    [['--image', 'x', '--cr3', '0', '--addr', '0', '--access', 'exec'], /--access must be read, write or fetch/],
    [['--image', 'x', '--cr3', '0', '--addr', '0', '--maxphyaddr', '60'], /--maxphyaddr must be an integer 32..52/],
  ];
  for (const [args, re] of cases) {
    const c = capture();
    const rc = await main(['mmu', 'explain', ...args], c.io);
    assert.notEqual(rc, 0);
    assert.match(c.err.join('\n'), re);
  }
  const u = capture();
  assert.equal(await main(['mmu', 'explain', '--bogus'], u.io), 2);
  assert.equal(await main(['mmu', 'frobnicate'], u.io), 2);
});
