import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  buildInitramfs,
  compileInit,
  CPIO_HEADER_SIZE,
  S_IFCHR,
  S_IFDIR,
  S_IFREG,
  writeCpio,
} from './initramfs.mjs';

interface ParsedEntry {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

/** An independent newc reader: checks magic, field syntax, padding and the trailer. */
function readCpio(b: Uint8Array): ParsedEntry[] {
  const dec = new TextDecoder('latin1');
  const out: ParsedEntry[] = [];
  let o = 0;
  for (;;) {
    assert.ok(o + CPIO_HEADER_SIZE <= b.length, 'archive ends inside a header');
    const h = dec.decode(b.subarray(o, o + CPIO_HEADER_SIZE));
    assert.equal(h.slice(0, 6), '070701', `magic at ${o}`);
    assert.match(h.slice(6), /^[0-9a-f]{104}$/, 'hex fields');
    const f = Array.from({ length: 13 }, (_, i) => parseInt(h.slice(6 + i * 8, 14 + i * 8), 16));
    const [ino, mode, uid, gid, nlink, mtime, filesize, , , rdevMajor, rdevMinor, namesize, check] = f as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    assert.equal(check, 0);
    const nameStart = o + CPIO_HEADER_SIZE;
    assert.equal(b[nameStart + namesize - 1], 0, 'name is NUL-terminated');
    const name = dec.decode(b.subarray(nameStart, nameStart + namesize - 1));
    let dataStart = nameStart + namesize;
    dataStart += (4 - (dataStart % 4)) % 4;
    assert.equal(dataStart % 4, 0);
    const data = b.subarray(dataStart, dataStart + filesize);
    o = dataStart + filesize;
    o += (4 - (o % 4)) % 4;
    if (name === 'TRAILER!!!') {
      assert.equal(o, b.length, 'nothing after the trailer');
      return out;
    }
    out.push({ name, ino, mode, uid, gid, nlink, mtime, rdevMajor, rdevMinor, data });
  }
}

test('cpio writer output parses back: names, modes, device numbers, data, padding for every name length', () => {
  const entries = [
    { name: 'a', mode: S_IFREG | 0o644, data: new Uint8Array([1, 2, 3]) },
    { name: 'bb', mode: S_IFDIR | 0o755 },
    { name: 'bb/ccc', mode: S_IFREG | 0o600, data: new Uint8Array(5).fill(9) },
    { name: 'bb/dddd', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
    { name: 'eeeee', mode: S_IFREG | 0o755, data: new Uint8Array(0) },
  ];
  const parsed = readCpio(writeCpio(entries));
  assert.deepEqual(
    parsed.map((e) => [e.name, e.mode, e.rdevMajor, e.rdevMinor, [...e.data], e.uid, e.gid, e.mtime]),
    entries.map((e) => [e.name, e.mode, e.rdevMajor ?? 0, e.rdevMinor ?? 0, [...(e.data ?? [])], 0, 0, 0]),
  );
  assert.equal(parsed[1]!.nlink, 2);
  assert.deepEqual(
    parsed.map((e) => e.ino),
    [1, 2, 3, 4, 5],
  );
  assert.throws(() => writeCpio([{ name: '/abs', mode: S_IFREG }]), TypeError);
  assert.throws(() => writeCpio([{ name: '', mode: S_IFREG }]), TypeError);
});

const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
const haveGcc = !gcc.error && gcc.status === 0;
const objdump = spawnSync('objdump', ['--version'], { encoding: 'utf8' });
const haveObjdump = !objdump.error && objdump.status === 0;

test(
  'build-initramfs: /init is a static ELF64 x86-64 executable; the archive is reproducible',
  { skip: haveGcc ? false : 'gcc not installed' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvmm-initramfs-'));
    try {
      const a = buildInitramfs({ output: join(dir, 'a.cpio.gz'), initBinary: join(dir, 'init-a') });
      const b = buildInitramfs({ output: join(dir, 'b.cpio.gz'), initBinary: join(dir, 'init-b') });
      assert.equal(a.sha256, b.sha256, 'two builds are byte-identical');
      const entries = readCpio(gunzipSync(readFileSync(a.output)));
      assert.deepEqual(
        entries.map((e) => e.name),
        ['dev', 'dev/console', 'init'],
      );
      const console_ = entries[1]!;
      assert.equal(console_.mode, S_IFCHR | 0o600);
      assert.deepEqual([console_.rdevMajor, console_.rdevMinor], [5, 1]);
      const init = entries[2]!;
      assert.equal(init.mode, S_IFREG | 0o755);
      const elf = init.data;
      const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
      assert.deepEqual([...elf.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
      assert.equal(elf[4], 2, 'ELFCLASS64');
      assert.equal(elf[5], 1, 'little-endian');
      assert.equal(dv.getUint16(16, true), 2, 'ET_EXEC (static, not PIE)');
      assert.equal(dv.getUint16(18, true), 62, 'EM_X86_64');
      // no PT_INTERP and no PT_DYNAMIC: statically linked
      const phoff = Number(dv.getBigUint64(32, true));
      const phentsize = dv.getUint16(54, true);
      const phnum = dv.getUint16(56, true);
      const types = Array.from({ length: phnum }, (_, i) => dv.getUint32(phoff + i * phentsize, true));
      assert.ok(types.includes(1), 'has PT_LOAD');
      assert.ok(!types.includes(3) && !types.includes(2), 'no PT_INTERP, no PT_DYNAMIC');
      assert.deepEqual([...elf], [...readFileSync(join(dir, 'init-a'))]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  '/init executes no SSE/MMX/AVX instruction (objdump -d)',
  { skip: !haveGcc ? 'gcc not installed' : !haveObjdump ? 'objdump not installed (binutils)' : false },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvmm-init-'));
    try {
      const bin = join(dir, 'init');
      compileInit(bin);
      const r = spawnSync('objdump', ['-d', '--no-show-raw-insn', bin], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const insns = r.stdout.split('\n').filter((l) => /^\s+[0-9a-f]+:\t/.test(l));
      assert.ok(insns.length > 10, 'disassembly has instructions');
      assert.ok(
        insns.some((l) => /\bsyscall\b/.test(l)),
        'makes raw syscalls',
      );
      const vector = insns.filter((l) =>
        /%[xyz]mm\d|%mm\d|\b(v?movdq|v?movap|v?movup|pxor|xorp[sd]|cvt|ldmxcsr|stmxcsr|fxsave|fxrstor|emms)/.test(
          l,
        ),
      );
      assert.deepEqual(vector, [], 'vector or x87-state instructions found');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
