// Builds the conformance guests (scripts/build-guests.mjs) into a temporary directory and checks each
// image's boot headers: ELF64 x86-64 with e_entry = _start64 (tsvmm's long64 entry), and a multiboot v1
// header (Multiboot Specification 0.6.96 §3.1) in the first 8 KiB with the a.out-kludge address fields
// describing the file contiguously and entry_addr = _start32. Also: the build is reproducible.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listPrograms, REPO_ROOT } from './runner.ts';

const hasGcc = spawnSync('gcc', ['--version']).status === 0;
const SKIP = hasGcc ? false : 'gcc is not installed: the conformance guests cannot be built here';

function build(out: string): void {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build-guests.mjs'), '--quiet', '--out', out], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `build-guests failed:\n${r.stdout}${r.stderr}`);
}

/** Symbol values from an ELF64 file's .symtab (System V gABI "Symbol Table"). */
function elfSymbols(b: Buffer): Map<string, bigint> {
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const sec = (i: number): { type: number; offset: number; size: number; link: number; entsize: number } => {
    const o = shoff + i * shentsize;
    return {
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 0x18)),
      size: Number(b.readBigUInt64LE(o + 0x20)),
      link: b.readUInt32LE(o + 0x28),
      entsize: Number(b.readBigUInt64LE(o + 0x38)),
    };
  };
  const syms = new Map<string, bigint>();
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    if (s.type !== 2) continue; // SHT_SYMTAB
    const str = sec(s.link);
    for (let o = s.offset; o < s.offset + s.size; o += s.entsize) {
      const nameOff = str.offset + b.readUInt32LE(o);
      const end = b.indexOf(0, nameOff);
      syms.set(b.toString('latin1', nameOff, end), b.readBigUInt64LE(o + 8));
    }
  }
  return syms;
}

let dir = '';

test('the guests build with the machine toolchain, reproducibly', { skip: SKIP }, () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvmm-guests-a-'));
  const again = mkdtempSync(join(tmpdir(), 'tsvmm-guests-b-'));
  build(dir);
  build(again);
  const elfs = readdirSync(dir)
    .filter((f) => f.endsWith('.elf'))
    .sort();
  assert.deepEqual(
    elfs,
    listPrograms().map((p) => `${p}.elf`),
  );
  for (const f of elfs) assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(again, f))), `${f} is not reproducible`);
});

test('each image is ELF64 x86-64 with e_entry = _start64 and one loadable segment', { skip: SKIP }, () => {
  for (const p of listPrograms()) {
    const b = readFileSync(join(dir, `${p}.elf`));
    assert.equal(b.readUInt32BE(0), 0x7f454c46, `${p}: ELF magic`);
    assert.equal(b[4], 2, `${p}: ELFCLASS64`);
    assert.equal(b[5], 1, `${p}: little-endian`);
    assert.equal(b.readUInt16LE(0x12), 0x3e, `${p}: EM_X86_64`);
    const syms = elfSymbols(b);
    const entry = b.readBigUInt64LE(0x18);
    assert.equal(entry, syms.get('_start64'), `${p}: e_entry is _start64`);
    const phoff = Number(b.readBigUInt64LE(0x20));
    const phnum = b.readUInt16LE(0x38);
    const loads = [];
    for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * 56) === 1) loads.push(phoff + i * 56);
    assert.equal(loads.length, 1, `${p}: one PT_LOAD`);
    assert.equal(b.readBigUInt64LE(loads[0]! + 0x18), 0x100000n, `${p}: loaded at 1 MiB (p_paddr)`);
  }
});

test('each image has a multiboot v1 header with the a.out-kludge fields and entry_addr = _start32', { skip: SKIP }, () => {
  for (const p of listPrograms()) {
    const b = readFileSync(join(dir, `${p}.elf`));
    let off = -1;
    for (let o = 0; o + 32 <= Math.min(b.length, 8192); o += 4) {
      if (b.readUInt32LE(o) === 0x1badb002 && ((b.readUInt32LE(o) + b.readUInt32LE(o + 4) + b.readUInt32LE(o + 8)) >>> 0) === 0) {
        off = o;
        break;
      }
    }
    assert.ok(off >= 0, `${p}: multiboot header in the first 8 KiB`);
    const flags = b.readUInt32LE(off + 4);
    assert.ok(flags & (1 << 16), `${p}: flags bit 16 (address fields valid)`);
    const [headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr] = [12, 16, 20, 24, 28].map((k) => b.readUInt32LE(off + k));
    const syms = elfSymbols(b);
    assert.equal(BigInt(headerAddr!), syms.get('multiboot_header'), `${p}: header_addr`);
    assert.equal(loadAddr, 0x100000, `${p}: load_addr`);
    assert.equal(BigInt(entryAddr!), syms.get('_start32'), `${p}: entry_addr is _start32`);
    assert.ok(loadEndAddr! > loadAddr! && bssEndAddr! >= loadEndAddr!, `${p}: load_end/bss_end ordered`);
    // the file maps contiguously: load_addr sits at (header offset - (header_addr - load_addr))
    const fileStart = off - (headerAddr! - loadAddr!);
    assert.ok(fileStart >= 0 && fileStart + (loadEndAddr! - loadAddr!) <= b.length, `${p}: load range inside the file`);
    // and the bytes at entry_addr in that mapping are the first instruction of _start32 (CLI = 0xFA)
    assert.equal(b[fileStart + entryAddr! - loadAddr!], 0xfa, `${p}: _start32 begins with CLI`);
    assert.equal(b[fileStart + Number(syms.get('_start64')!) - loadAddr!], 0xfa, `${p}: _start64 begins with CLI`);
  }
});
