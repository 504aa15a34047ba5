// The decoder and its Intel-syntax disassembly against GNU objdump (issue #5): for every encoding of a
// generated corpus (every instruction-table row — one-byte, 0F, 0F38, 0F3A, VEX, SIMD, x87 — under
// prefix combinations (66, 67, F2, F3, REX, segment, LOCK) and ModRM/SIB/displacement shapes) in 64-,
// 32- and 16-bit mode, the length and the full instruction text must equal objdump's, up to the
// written-down normalizations and divergences of disasm-oracle.ts. Malformed encodings must fault
// with #UD or #GP as the SDM says (Vol. 2 §2.1-2.3, §2.3.2 VEX; Vol. 3 §6.15), never crash.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeOne } from './disasm.ts';
import { compareLinear, compareMode, DIVERGENCES, haveObjdump, type Bits } from './disasm-oracle.ts';

const NO_OBJDUMP = haveObjdump() ? false : 'GNU objdump (binutils) is not installed';
const h = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((x) => parseInt(x, 16)));

for (const bits of [64, 32, 16] as Bits[]) {
  test(`decoder length and Intel text agree with objdump on the ${bits}-bit corpus`, { skip: NO_OBJDUMP }, (t) => {
    const r = compareMode(bits, decodeOne);
    t.diagnostic(`${bits}-bit: ${r.total} encodings, ${r.compared} compared (length + text), ${r.faults} #UD/#GP, ${r.odBad} objdump (bad)`);
    for (const [k, n] of Object.entries(r.diverged)) t.diagnostic(`  ${n} × ${k}: ${DIVERGENCES[k]}`);
    assert.deepEqual(r.badFaults, []);
    assert.ok(r.compared > (bits === 64 ? 50000 : 40000), `only ${r.compared} encodings compared`);
    assert.equal(r.mismatches.length, 0, `${r.mismatches.length} mismatches:\n${r.mismatches.slice(0, 40).join('\n')}`);
    // every divergence key is a documented one
    for (const k of Object.keys(r.diverged)) assert.ok(k in DIVERGENCES, k);
  });
}

// real code: the host C library's .text (built by a compiler, not by this corpus's generator)
const LIBC = ['/usr/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6', '/usr/lib64/libc.so.6'].find((p) => existsSync(p));
const haveObjcopy = spawnSync('objcopy', ['--version']).status === 0;
const NO_LIBC = NO_OBJDUMP || (!haveObjcopy ? 'objcopy (binutils) is not installed' : !LIBC ? 'no x86-64 libc.so.6 found to read real code from' : false);

test('decoder length and Intel text agree with objdump on real code (host libc .text, first 256 KiB)', { skip: NO_LIBC }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-libc-'));
  try {
    execFileSync('objcopy', ['-O', 'binary', '--only-section=.text', LIBC!, join(dir, 'text.bin')]);
    const code = new Uint8Array(readFileSync(join(dir, 'text.bin'))).subarray(0, 256 * 1024);
    const r = compareLinear(code, decodeOne);
    t.diagnostic(`${LIBC}: ${r.compared} instructions compared, ${r.faults} not in the table (#UD), ${r.mismatches.length} mismatches`);
    assert.ok(r.compared > 20000, `only ${r.compared} compared`);
    assert.equal(r.mismatches.length, 0, r.mismatches.slice(0, 30).join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('disassembly text: registers, memory operands, immediates, targets (objdump -M intel spelling)', () => {
  const cases: [string, Bits, string, number?][] = [
    ['48 01 d8', 64, 'add    rax,rbx'],
    ['40 88 c4', 64, 'mov    spl,al'],
    ['88 c4', 64, 'mov    ah,al'],
    ['45 88 c8', 64, 'mov    r8b,r9b'],
    ['66 41 89 c0', 64, 'mov    r8w,ax'],
    ['8b 44 88 10', 64, 'mov    eax,DWORD PTR [rax+rcx*4+0x10]'],
    ['8b 40 ff', 64, 'mov    eax,DWORD PTR [rax-0x1]'],
    ['8b 04 20', 64, 'mov    eax,DWORD PTR [rax+riz*1]'],
    ['8b 04 25 11 22 33 44', 64, 'mov    eax,DWORD PTR ds:0x44332211'],
    ['64 8b 00', 64, 'mov    eax,DWORD PTR fs:[rax]'],
    ['8b 05 10 00 00 00', 64, 'mov    eax,DWORD PTR [rip+0x10]        # 0x1016', 0x1000],
    ['83 c0 ff', 64, 'add    eax,0xffffffff'],
    ['48 83 c0 ff', 64, 'add    rax,0xffffffffffffffff'],
    ['6a ff', 64, 'push   0xffffffffffffffff'],
    ['48 b8 11 22 33 44 55 66 77 88', 64, 'movabs rax,0x8877665544332211'],
    ['eb fe', 64, 'jmp    0x400', 0x400],
    ['e8 00 00 00 00', 64, 'call   0x405', 0x400],
    ['f3 a4', 64, 'rep movs BYTE PTR es:[rdi],BYTE PTR ds:[rsi]'],
    ['f3 a6', 64, 'repz cmps BYTE PTR ds:[rsi],BYTE PTR es:[rdi]'],
    ['66 ab', 64, 'stos   WORD PTR es:[rdi],ax'],
    ['f0 48 0f b1 0a', 64, 'lock cmpxchg QWORD PTR [rdx],rcx'],
    ['0f 20 c0', 64, 'mov    rax,cr0'],
    ['0f 23 f8', 64, 'mov    dr7,rax'],
    ['8c d8', 64, 'mov    eax,ds'],
    ['66 0f ef c1', 64, 'pxor   xmm0,xmm1'],
    ['f3 0f 10 00', 64, 'movss  xmm0,DWORD PTR [rax]'],
    ['0f 2b 08', 64, 'movntps XMMWORD PTR [rax],xmm1'],
    ['0f fc 00', 64, 'paddb  mm0,QWORD PTR [rax]'],
    ['66 48 0f 6e c0', 64, 'movq   xmm0,rax'],
    ['0f c2 c1 01', 64, 'cmpltps xmm0,xmm1'],
    ['d8 c1', 64, 'fadd   st,st(1)'],
    ['dd 00', 64, 'fld    QWORD PTR [rax]'],
    ['db 28', 64, 'fld    TBYTE PTR [rax]'],
    ['c4 e2 78 f2 c1', 64, 'andn   eax,eax,ecx'],
    ['48 0f c7 08', 64, 'cmpxchg16b OWORD PTR [rax]'],
    ['8b 04 25 f0 ff ff ff', 32, 'mov    eax,DWORD PTR [eiz*1-0x10]'],
    ['2e 8b 00', 32, 'mov    eax,DWORD PTR cs:[eax]'],
    ['9a 11 22 33 44 55 66', 32, 'call   0x6655:0x44332211'],
    ['ff 18', 32, 'call   FWORD PTR [eax]'],
    ['8b 42 fe', 16, 'mov    ax,WORD PTR [bp+si-0x2]'],
    ['8b 06 34 12', 16, 'mov    ax,WORD PTR ds:0x1234'],
    ['66 cf', 16, 'iretd'],
    ['e9 fd ff', 16, 'jmp    0x0'],
  ];
  for (const [hex, bits, want, addr] of cases) {
    const d = decodeOne(h(hex), bits, addr ?? 0);
    assert.equal(d.fault, undefined, `${hex}: fault ${d.fault} ${d.reason}`);
    assert.equal(d.text, want, hex);
  }
});

test('decoder: operand and address sizes from prefixes (66, 67, REX.W, d64)', () => {
  assert.deepEqual([decodeOne(h('01c0')).osz, decodeOne(h('6601c0')).osz, decodeOne(h('4801c0')).osz], [4, 2, 8]);
  assert.equal(decodeOne(h('664801c0')).osz, 8); // REX.W beats 66
  assert.equal(decodeOne(h('50')).osz, 8); // PUSH is d64
  assert.equal(decodeOne(h('6650')).osz, 2);
  assert.equal(decodeOne(h('678b00')).asz, 4);
  assert.equal(decodeOne(h('8b00'), 32).asz, 4);
  assert.equal(decodeOne(h('678b00'), 32).asz, 2);
  assert.equal(decodeOne(h('678b063412'), 32).length, 5); // 16-bit disp16 form
  assert.equal(decodeOne(h('06'), 32).length, 1);
  assert.equal(decodeOne(h('48b80102030405060708')).length, 10); // MOV r64, imm64
  assert.equal(decodeOne(h('c4e278f2c1')).op, 'ANDN');
});

// ---- malformed encodings --------------------------------------------------------------------------

/** valid encodings of every length class, per mode, to truncate */
const LONG: Record<Bits, string[]> = {
  64: ['48 81 84 88 11 22 33 44 55 66 77 88', '66 0f 3a 0f 84 88 11 22 33 44 05', 'c4 e2 78 f2 84 88 11 22 33 44', '48 b8 11 22 33 44 55 66 77 88',
    'f2 0f 38 f1 05 11 22 33 44', '64 67 66 c7 84 24 11 22 33 44 55 66', 'dd 84 24 11 22 33 44', 'f0 0f c7 0c 24'],
  32: ['81 84 88 11 22 33 44 55 66 77 88', '66 0f 3a 0f 84 88 11 22 33 44 05', '9a 11 22 33 44 55 66', 'c8 11 22 33', '2e 67 66 c7 87 11 22 33 44'],
  16: ['81 87 11 22 33 44', '66 81 84 11 22 33 44 55 66', '67 66 0f 3a 0f 84 88 11 22 33 44 05', 'ea 11 22 33 44', '66 9a 11 22 33 44 55 66'],
};

test('malformed: an encoding cut short at every length faults (#GP beyond the CS limit; unbacked fetch in 64-bit), never crashes', () => {
  let n = 0;
  for (const bits of [64, 32, 16] as Bits[]) {
    for (const hex of LONG[bits]) {
      const b = h(hex);
      const full = decodeOne(b, bits);
      assert.equal(full.fault, undefined, `${hex}: ${full.reason}`);
      assert.equal(full.length, b.length, `${hex}: full length`);
      assert.equal(decodeOne(b, bits, 0, { available: b.length }).length, b.length, `${hex}: exactly available`);
      for (let k = 0; k < b.length; k++) {
        const d = decodeOne(b, bits, 0, { available: k });
        // 16/32-bit: a fetch beyond the CS limit is #GP(0) (SDM Vol. 3 §6.15 "Interrupt 13"); 64-bit:
        // the fetch runs into an unbacked page (an internal fault, -1: the VMM reports it as an exit)
        assert.equal(d.fault, bits === 64 ? -1 : 13, `${bits}-bit ${hex} cut at ${k}: ${d.fault} ${d.reason}`);
        n++;
      }
    }
  }
  assert.ok(n > 100);
});

test('malformed: LOCK, length, VEX and ModRM rules (#UD / #GP per the SDM)', () => {
  const UD = 6, GP = 13, OK = 0;
  const cases: [string, Bits, number, string][] = [
    // LOCK on a non-lockable instruction or a register destination: #UD (SDM Vol. 2 "LOCK")
    ['f0 01 c0', 64, UD, 'lock add reg,reg'], ['f0 8b 00', 64, UD, 'lock mov'], ['f0 90', 64, UD, 'lock nop'],
    ['f0 a5', 64, UD, 'lock movs'], ['f0 0f 05', 64, UD, 'lock syscall'], ['f0 0f a3 00', 32, UD, 'lock bt (not lockable)'],
    ['f0 66 0f ef c1', 64, UD, 'lock pxor'], ['f0 d9 00', 16, UD, 'lock fld'], ['f0 0f c7 c8', 64, UD, 'lock cmpxchg8b reg'],
    // more than 15 bytes: #GP(0) (SDM Vol. 2 §2.3.11)
    ['66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90', 64, GP, '15 prefixes + opcode'],
    ['2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 2e 90', 32, GP, '16 prefixes'],
    ['67 66 f3 2e 67 66 f3 2e 67 66 f3 2e 48 81 c0 11 22 33 44', 64, GP, 'prefixes + imm32 past 15'],
    // VEX (SDM Vol. 2 §2.3.2): 66/F2/F3/REX before VEX, VEX.L=1 on a BMI instruction, reserved map
    ['66 c4 e2 78 f2 c1', 64, UD, '66 before VEX'], ['f3 c4 e2 78 f2 c1', 64, UD, 'F3 before VEX'],
    ['48 c4 e2 78 f2 c1', 64, UD, 'REX before VEX'], ['c4 e2 7c f2 c1', 64, UD, 'VEX.L=1 andn'],
    ['c4 e4 78 f2 c1', 64, UD, 'VEX map 4'], ['c4 e0 78 f2 c1', 64, UD, 'VEX map 0'],
    ['c4 e3 6b f0 c0 11', 64, UD, 'RORX with VEX.vvvv != 1111b'], ['c4 e3 7b f0 c0 11', 64, OK, 'RORX with VEX.vvvv = 1111b'],
    ['c4 e3 6b f0 c0 11', 32, UD, 'RORX vvvv (bit 3 ignored outside 64-bit)'], ['c4 e3 3b f0 c0 11', 32, OK, 'RORX vvvv = x111b in 32-bit'],
    // NP/NFx rows: a 66/F2/F3 that names another instruction not in the table is #UD (SDM Vol. 2 §3.1.1.1)
    ['66 0f ae 30', 64, UD, '66 xsaveopt = CLWB'], ['66 0f ae 38', 64, UD, '66 clflush = CLFLUSHOPT'], ['f3 0f ae 20', 64, UD, 'F3 xsave = PTWRITE'],
    ['f3 0f ae e8', 64, UD, 'F3 lfence = INCSSP'], ['66 0f ae f0', 64, UD, '66 mfence = TPAUSE'], ['f3 0f c7 f0', 64, UD, 'F3 rdrand = SENDUIPI'],
    ['f3 0f 01 ee', 64, UD, 'F3 rdpkru = CLUI'], ['66 0f c3 00', 64, UD, '66 movnti'],
    ['66 0f c7 f0', 64, OK, 'rdrand r16'], ['0f ae 38', 64, OK, 'clflush'], ['0f ae e8', 64, OK, 'lfence'], ['f3 0f 09', 64, OK, 'WBNOINVD runs as WBINVD'],
    // reserved opcodes of each map
    ['d6', 64, UD, '1-byte D6'], ['06', 64, UD, 'push es in 64-bit'], ['37', 64, UD, 'aaa in 64-bit'], ['9a 11 22 33 44 55 66', 64, UD, 'far call ptr in 64-bit'],
    ['ce', 64, UD, 'into in 64-bit'], ['d4 0a', 64, UD, 'aam in 64-bit'], ['82 c0 01', 64, UD, '82 in 64-bit'],
    ['0f 04', 64, UD, '0F 04'], ['0f 0a', 32, UD, '0F 0A'], ['0f 0c', 64, UD, '0F 0C'], ['0f 24 c0', 32, UD, '0F 24'], ['0f 26 c0', 32, UD, '0F 26'],
    ['0f 36', 64, UD, '0F 36'], ['0f 39', 64, UD, '0F 39'], ['0f a6', 32, UD, '0F A6'], ['0f a7', 16, UD, '0F A7'],
    ['0f 38 50 c0', 64, UD, '0F38 50'], ['0f 38 ff c0', 32, UD, '0F38 FF'], ['66 0f 38 f6 c0', 64, OK, '66 0F38 F6 = adcx'],
    ['0f 3a ff c0 00', 64, UD, '0F3A FF'], ['0f 3a 60 c0 00', 64, UD, 'pcmpestrm without 66'],
    ['c4 e2 78 00 c0', 64, UD, 'VEX 0F38 00 (no VEX row)'], ['c4 e3 78 00 c0 00', 64, UD, 'VEX 0F3A 00'],
    ['0f 01 d2', 64, UD, '0F 01 /2 rm=2'], ['0f 01 ec', 64, UD, '0F 01 /5 rm=4'], ['0f 00 f0', 32, UD, '0F 00 /6'],
    ['fe d0', 64, UD, 'FE /2'], ['ff f8', 64, UD, 'FF /7'], ['8f c8', 64, UD, '8F /1'], ['c6 c8 00', 64, UD, 'C6 /1'],
    ['0f ba e0 00', 32, OK, '0F BA /4 is bt'], ['0f ba d0 00', 32, UD, '0F BA /2'],
    // ModRM.mod = 11b where only memory is allowed: #UD
    ['8d c0', 64, UD, 'lea reg'], ['0f 01 c0', 32, UD, 'sgdt reg (0F 01 C0 is not defined)'], ['0f 01 f9', 32, OK, 'rdtscp'],
    ['0f c7 c8', 64, UD, 'cmpxchg8b reg'], ['0f b2 c0', 32, UD, 'lss reg'], ['ff d8', 64, UD, 'far call reg'], ['ff e8', 16, UD, 'far jmp reg'],
    ['0f 2b c1', 64, UD, 'movntps reg'], ['0f ae c0', 64, UD, 'fxsave reg'], ['0f ae e0', 32, UD, 'xsave reg'], ['0f 01 f8', 32, UD, 'swapgs outside 64-bit'],
    ['62 c0', 32, UD, 'bound reg'], ['66 0f 38 82 c0', 64, UD, 'invpcid reg'],
  ];
  for (const [hex, bits, vec, what] of cases) {
    const d = decodeOne(h(hex), bits);
    if (vec === OK) {
      assert.equal(d.fault, undefined, `${what}: ${d.reason}`);
      continue;
    }
    assert.equal(d.fault, vec, `${bits}-bit ${hex} (${what}): got ${d.fault === undefined ? `'${d.text}'` : d.fault} ${d.reason ?? ''}`);
  }
});

test('malformed: VEX is #UD in real-address mode (C4/C5 are LES/LDS there, which need memory)', () => {
  // real mode: C4 with mod = 11b is LES with a register operand → #UD; in 16-bit protected mode it is VEX
  assert.equal(decodeOne(h('c4 e2 78 f2 c1'), 16, 0, { real: true }).fault, 6);
  assert.equal(decodeOne(h('c5 f8 77'), 16, 0, { real: true }).fault, 6);
  assert.equal(decodeOne(h('c4 e2 78 f2 c1'), 16).text, 'andn   eax,eax,ecx');
  // LES/LDS with a memory operand still decode in real mode
  assert.equal(decodeOne(h('c4 06 34 12'), 16, 0, { real: true }).text, 'les    ax,DWORD PTR ds:0x1234');
});

test('prefix rules: a REX that is not last is ignored; a REX before a legacy prefix does not fault', () => {
  // SDM Vol. 2 §2.2.1: REX must immediately precede the opcode (or escape); otherwise it is ignored
  assert.equal(decodeOne(h('48 66 01 c0')).text, 'add    ax,ax');
  assert.equal(decodeOne(h('41 66 01 c0')).text, 'add    ax,ax');
  assert.equal(decodeOne(h('41 f0 01 00')).text, 'lock add DWORD PTR [rax],eax');
  assert.equal(decodeOne(h('66 41 01 c0')).text, 'add    r8w,ax');
  // two REX prefixes: the last one counts
  assert.equal(decodeOne(h('48 41 01 c0')).text, 'add    r8d,eax');
});
