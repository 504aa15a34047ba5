// Peer command lines and configuration (no peer is run here), and the runner's argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bochsrc } from './bochs.ts';
import { qemuArgs } from './qemu.ts';
import { findV86, setV86Dir } from './v86.ts';
import { missingDebianPackages } from './install.ts';
import { ENGINES, main } from '../suite.ts';

test('QEMU: TCG or KVM, isa-debug-exit at 0xF4, serial on stdio, the image as -kernel last', () => {
  const a = qemuArgs('tcg', '/x/alu64.elf', ['-icount', 'shift=0']);
  assert.deepEqual(a.slice(0, 2), ['-accel', 'tcg']);
  assert.ok(a.join(' ').includes('-device isa-debug-exit,iobase=0xf4,iosize=0x04'));
  assert.ok(a.join(' ').includes('-serial stdio'));
  assert.deepEqual(a.slice(-4), ['-icount', 'shift=0', '-kernel', '/x/alu64.elf']);
  assert.deepEqual(qemuArgs('kvm', 'i').slice(0, 2), ['-accel', 'kvm']);
  assert.deepEqual(qemuArgs('tcg', '/x/a.img', [], 'disk').slice(-2), ['-drive', 'file=/x/a.img,format=raw,if=ide']);
});

test('bochsrc: headless rfb without waiting, e9 hack, disk geometry, fatal panic (the shutdown port)', () => {
  const rc = bochsrc('/d/alu32.img', '/w/bochs.log');
  assert.match(rc, /^display_library: rfb, options="timeout=0"$/m);
  assert.match(rc, /^port_e9_hack: enabled=1$/m);
  assert.match(rc, /^ata0-master: type=disk, path=\/d\/alu32\.img, mode=flat, cylinders=2, heads=16, spt=63$/m);
  assert.match(rc, /^panic: action=fatal$/m);
  assert.match(rc, /^log: \/w\/bochs\.log$/m);
  assert.match(rc, /^megs: 256$/m);
});

test('v86 is found through --v86 only when the directory holds its build', () => {
  const d = mkdtempSync(join(tmpdir(), 'v86-'));
  try {
    setV86Dir(d);
    assert.equal(findV86(), undefined);
    mkdirSync(join(d, 'build'));
    writeFileSync(join(d, 'build/libv86.mjs'), '');
    writeFileSync(join(d, 'build/v86.wasm'), '');
    assert.equal(findV86(), d);
  } finally {
    setV86Dir(undefined);
    rmSync(d, { recursive: true, force: true });
  }
});

test('engines: unique ids; PVM engines are references with the note', () => {
  assert.equal(new Set(ENGINES.map((e) => e.id)).size, ENGINES.length);
  for (const e of ENGINES.filter((x) => x.reference && x.id !== 'qemu-tcg-disk')) assert.match(e.note ?? '', /PVM, not a speed reference/);
  assert.deepEqual(ENGINES.filter((e) => e.tsvmm && !e.reference).map((e) => e.id), ['tsvmm-interp']);
  assert.ok(Array.isArray(missingDebianPackages()));
});

test('runner: bad options are usage errors (exit 2), --help exits 0', async () => {
  const quiet = (): void => {};
  const errWrite = process.stderr.write.bind(process.stderr);
  const outWrite = process.stdout.write.bind(process.stdout);
  const seen: string[] = [];
  process.stderr.write = ((s: string) => (seen.push(String(s)), true)) as typeof process.stderr.write;
  process.stdout.write = ((s: string) => (seen.push(String(s)), true)) as typeof process.stdout.write;
  try {
    assert.equal(await main(['--bogus'], quiet), 2);
    assert.equal(await main(['--runs', '0'], quiet), 2);
    assert.equal(await main(['--seconds', 'x'], quiet), 2);
    assert.equal(await main(['--only', 'nope'], quiet), 2);
    assert.equal(await main(['--engines', 'qemu-tcg,nope'], quiet), 2);
    assert.equal(await main(['--help'], quiet), 0);
  } finally {
    process.stderr.write = errWrite;
    process.stdout.write = outWrite;
  }
  assert.ok(seen.some((s) => /unknown workload 'nope'/.test(s)));
  assert.ok(seen.some((s) => /unknown engine 'nope'/.test(s)));
  assert.ok(seen.some((s) => /--runs must be a positive integer/.test(s)));
  assert.ok(seen.some((s) => /usage: npm run bench/.test(s)));
});
