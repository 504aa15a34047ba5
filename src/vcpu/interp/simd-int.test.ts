// Integer SIMD semantics (MMX, SSE2 integer, SSSE3, SSE4.1/4.2 integer and string instructions; Intel
// SDM Vol. 2 per-instruction pages) checked against the host CPU itself (DESIGN.md §5.3): the same
// assembled case list runs natively (a gcc-built harness) and on the interpreter in 64-bit mode; every
// bit of xmm0/xmm1/mm0/mm1, RAX/RCX/RDX, the arithmetic flags and a 16-byte memory destination must
// agree. The case list is generated from the table rows (spec/simd-int-rows.ts) and the test checks,
// by decoding the assembled bytes, that every integer SIMD row is executed. Skipped without gcc/as or
// when the host lacks SSSE3/SSE4.1/SSE4.2.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, haveAssembler, makeGuest, CODE_BASE, IDT_BASE } from './testing/harness.ts';
import { createInterpBackend } from './index.ts';
import { decodeOne } from './disasm.ts';
import { SIMD_INT_ROWS, PM } from './spec/simd-int-rows.ts';

const haveGcc = spawnSync('gcc', ['--version']).status === 0;
let hostFlags = '';
try { hostFlags = readFileSync('/proc/cpuinfo', 'utf8'); } catch { /* not Linux */ }
const hostOk = ['mmx', 'ssse3', 'sse4_1', 'sse4_2'].every((f) => new RegExp(`\\b${f}\\b`).test(hostFlags));
const skipNative = !haveGcc || !haveAssembler() ? 'gcc/as not available' : !hostOk ? 'host CPU lacks MMX/SSSE3/SSE4.1/SSE4.2' : false;

/** guest CPUID: the interpreter's supported CPUID plus MMX, SSE, SSE2, SSSE3, SSE4.1, SSE4.2 */
function simdCpuid(drop: { ecx?: number; edx?: number } = {}): ReturnType<ReturnType<typeof createInterpBackend>['supportedCpuid']> {
  return createInterpBackend().supportedCpuid().map((e) => (e.function === 1
    ? { ...e, ecx: ((e.ecx | (1 << 9) | (1 << 19) | (1 << 20)) & ~(drop.ecx ?? 0)) >>> 0, edx: ((e.edx | (1 << 23) | (3 << 25)) & ~(drop.edx ?? 0)) >>> 0 }
    : e));
}

// ---- operand values ------------------------------------------------------------------------------
let seed = 0x2545f491;
function rnd(): number {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return seed >>> 0;
}
const EDGE = [0n, 1n, 2n, 0x7fn, 0x80n, 0x81n, 0xfen, 0xffn, 0x7fffn, 0x8000n, 0x8001n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn];
/** 16-byte vectors: edge patterns per lane width, random lanes, and string-like vectors */
function makePool(): bigint[] {
  const out: bigint[] = [];
  const rep = (v: bigint, bits: number): bigint => { let r = 0n; for (let i = 0; i < 128; i += bits) r |= (v & ((1n << BigInt(bits)) - 1n)) << BigInt(i); return r; };
  for (const [v, b] of [[0n, 8], [0xffn, 8], [0x80n, 8], [0x7fn, 8], [0x8000n, 16], [0x7fffn, 16], [0x80000000n, 32], [0x7fffffffn, 32],
    [0x8000000000000000n, 64], [0x7fffffffffffffffn, 64], [1n, 16], [0xff00n, 16]] as const) out.push(rep(v, b));
  for (let k = 0; k < 36; k++) {
    const bits = [8, 16, 32, 64][k & 3]!;
    let r = 0n;
    for (let i = 0; i < 128; i += bits) {
      const m = (1n << BigInt(bits)) - 1n;
      const pick = rnd() % 3;
      let lane = pick === 0 ? EDGE[rnd() % EDGE.length]! : BigInt(rnd()) | (BigInt(rnd()) << 32n);
      if (rnd() & 1 && pick === 0) lane = (m + 1n - lane) & m; // negated edge
      r |= (lane & m) << BigInt(i);
    }
    out.push(r);
  }
  return out;
}
const POOL = makePool();
/** shift-count vectors (low quadword = count) */
const COUNTS = [0n, 1n, 3n, 7n, 8n, 15n, 16n, 17n, 31n, 32n, 33n, 63n, 64n, 65n, 255n, 256n, 0x100000000n, 0x8000000000000001n];
/** string vectors for PCMPxSTRx: small alphabets, nulls at various positions */
function makeStrings(): bigint[] {
  const out: bigint[] = [];
  const alpha = [0x61, 0x62, 0x63, 0x41, 0x7a, 0x30, 0xe9, 0x80, 0xff];
  for (let k = 0; k < 24; k++) {
    const bytes: number[] = [];
    const nul = k % 3 === 0 ? -1 : (rnd() % 18);
    for (let i = 0; i < 16; i++) bytes.push(i === nul || (k % 5 === 1 && i === 2 * (k % 8) + 1 && i > 8) ? 0 : alpha[rnd() % (k < 8 ? 3 : alpha.length)]!);
    let r = 0n;
    bytes.forEach((b, i) => { r |= BigInt(b) << BigInt(8 * i); });
    out.push(r);
  }
  out.push(0x7a61n | (0x5a41n << 16n) | (0x3930n << 32n)); // ranges "az", "AZ", "09"
  out.push(0x6162636461626364616263646162636n);
  out.push(0x64636261n);
  return out;
}
const STRINGS = makeStrings();

// ---- cases ---------------------------------------------------------------------------------------
interface Case { pre: string; insn: string; post: string; d: number; s: number; rax: bigint; rcx: bigint; rdx: bigint; fin: number }
const VALS: bigint[] = [];
const valIndex = new Map<bigint, number>();
function v(x: bigint): number {
  let i = valIndex.get(x);
  if (i === undefined) { i = VALS.length; VALS.push(x); valIndex.set(x, i); }
  return i;
}
const ALLF = 0x8d5;

function cases(): Case[] {
  const out: Case[] = [];
  let n = 0;
  const add = (insn: string, d: bigint, s: bigint, o: Partial<Case> = {}): void => {
    out.push({ pre: '', post: '', d: v(d), s: v(s), rax: 0x1122334455667788n, rcx: 0x99aabbccddeeff00n, rdx: 0x0123456789abcdefn, fin: n++ & 1 ? 0x202 | ALLF : 0x202, insn, ...o });
  };
  const pair = (k: number): [bigint, bigint] => [POOL[(k * 7 + 3) % POOL.length]!, POOL[(k * 13 + 5) % POOL.length]!];
  const MEM: Record<string, string> = { Qq: 'qword', Qd: 'dword', Wx: 'xmmword', Wq: 'qword', Wd: 'dword', Ww: 'word' };
  const immsFor = (m: string): number[] => {
    if (m.startsWith('pshuf') && m !== 'pshufb') return [0x00, 0x1b, 0xe4, 0x4e, 0xb1, 0xff, 0x93];
    if (m === 'palignr') return [0, 1, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 255];
    if (m === 'pblendw') return [0, 0xff, 0xa5, 0x3c, 0x01, 0x80];
    if (m === 'mpsadbw') return [0, 1, 2, 3, 4, 5, 6, 7, 0xff, 0x5a]; // bits 7:3 are ignored
    return [];
  };
  for (const r of SIMD_INT_ROWS) {
    const mm = r.prefix === 'none';
    const [dr, sr] = mm ? ['mm0', 'mm1'] : ['xmm0', 'xmm1'];
    if (r.op === 'PINT') {
      const src = r.operands[1]!;
      const isShift = /^ps(rl|ra|ll)[wdq]$/.test(r.mnemonic);
      const imms = r.operands[2] ? immsFor(r.mnemonic) : [-1];
      for (const imm of imms) {
        const i = imm >= 0 ? `, ${imm}` : '';
        const nreg = imm >= 0 ? 3 : 10;
        for (let k = 0; k < nreg; k++) {
          const [d, s] = pair(k + imm + 1);
          add(`${r.mnemonic} ${dr}, ${sr}${i}`, d, s);
        }
        for (let k = 0; k < 2; k++) {
          const [d, s] = pair(k + 40 + imm);
          add(`${r.mnemonic} ${dr}, ${MEM[src]} ptr [rip + V${v(s)}]${i}`, d, s);
        }
        if (!mm) { // REX.R/REX.B registers (the Debian kernel's PADDQ xmm14, xmm15)
          const [d, s] = pair(imm + 77);
          add(`${r.mnemonic} xmm14, xmm15${i}`, d, s, { pre: 'movdqa xmm14, xmm0\n movdqa xmm15, xmm1', post: 'movdqa xmm0, xmm14' });
        }
      }
      if (isShift) {
        for (const cnt of COUNTS) for (let k = 0; k < 2; k++) add(`${r.mnemonic} ${dr}, ${sr}`, pair(k + Number(cnt & 15n))[0], cnt | (BigInt(rnd()) << 64n));
        add(`${r.mnemonic} ${dr}, ${MEM[src]} ptr [rip + V${v(33n)}]`, POOL[20]!, 33n);
      }
      if (r.mnemonic === 'pcmpgtq' || r.mnemonic === 'pcmpeqq') {
        for (const [a, b] of [[0x8000000000000000n, 0x7fffffffffffffffn], [0x1_00000000n, 0xffffffffn], [0xffffffff_00000000n, 0xffffffff_00000001n], [5n, 5n]])
          add(`${r.mnemonic} xmm0, xmm1`, a! | (b! << 64n), b! | (a! << 64n));
      }
    } else if (r.op === 'PSHIFTI') {
      for (const imm of [0, 1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 255]) for (let k = 0; k < 2; k++) add(`${r.mnemonic} ${mm ? 'mm0' : 'xmm0'}, ${imm}`, pair(k + imm)[0], 0n);
      if (!mm) add(`${r.mnemonic} xmm15, 5`, POOL[30]!, 0n, { pre: 'movdqa xmm15, xmm0', post: 'movdqa xmm0, xmm15' });
    }
  }
  // PMISC forms
  const regVals = [0x8000800080008000n, 0x1122334455667788n, 0xfedcba9876543210n, 0xffffffffffff8001n];
  const byArg = (a: number): void => {
    for (let k = 0; k < 4; k++) {
      const [d, s] = pair(k + 3 * a);
      const o = { rax: regVals[k]!, rcx: regVals[(k + 1) & 3]! };
      const X = (insn: string, extra: Partial<Case> = {}): void => add(insn, d, s, { ...o, ...extra });
      const ptr = (w: string): string => `${w} ptr [rip + V${v(s)}]`;
      switch (a) {
        case PM.MOVD_MM_E:
          X('movd mm0, eax'); X('movq mm0, rax'); X(`movd mm0, ${ptr('dword')}`);
          X('.byte 0x48, 0x0f, 0x6e, 0x47, 0x50', { pre: 'mov [rdi + 80], rax' });
          break;
        case PM.MOVD_E_MM:
          X('movd eax, mm1'); X('movq rax, mm1'); X('movd dword ptr [rdi + 80], mm1'); X('.byte 0x48, 0x0f, 0x7e, 0x4f, 0x50');
          break;
        case PM.MOVQ_MM_Q: X('movq mm0, mm1'); X(`movq mm0, ${ptr('qword')}`); break;
        case PM.MOVQ_Q_MM: X('.byte 0x0f, 0x7f, 0xc1'); X('movq qword ptr [rdi + 80], mm1'); break;
        case PM.MOVNTQ: X('movntq qword ptr [rdi + 80], mm1'); break;
        case PM.MOVQ2DQ: X('movq2dq xmm0, mm1'); X('movq2dq xmm15, mm1', { post: 'movdqa xmm0, xmm15' }); break;
        case PM.MOVDQ2Q: X('movdq2q mm0, xmm1'); X('movdq2q mm0, xmm15', { pre: 'movdqa xmm15, xmm0' }); break;
        case PM.EMMS: X('emms'); break;
        case PM.MASKMOVQ: X('maskmovq mm0, mm1', { pre: 'lea rdi, [rdi + 80]', post: 'lea rdi, [rdi - 80]' }); break;
        case PM.MASKMOVDQU: X('maskmovdqu xmm0, xmm1', { pre: 'lea rdi, [rdi + 80]', post: 'lea rdi, [rdi - 80]' }); break;
        case PM.PMOVMSKB_MM: X('pmovmskb eax, mm1'); break;
        case PM.PMOVMSKB_XMM: X('pmovmskb eax, xmm1'); X('pmovmskb ecx, xmm15', { pre: 'movdqa xmm15, xmm1' }); break;
        case PM.PINSRW_MM: for (const i of [0, 1, 2, 3, 6]) { X(`pinsrw mm0, eax, ${i}`); X(`pinsrw mm0, ${ptr('word')}, ${i}`); } break;
        case PM.PINSRW_XMM: for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 9]) { X(`pinsrw xmm0, eax, ${i}`); X(`pinsrw xmm0, ${ptr('word')}, ${i}`); } break;
        case PM.PEXTRW_MM: for (const i of [0, 1, 2, 3, 5]) X(`pextrw eax, mm1, ${i}`); break;
        case PM.PEXTRW_XMM: for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 10]) X(`pextrw eax, xmm1, ${i}`); break;
        case PM.PEXTRB: for (const i of [0, 1, 5, 7, 8, 15, 17]) { X(`pextrb eax, xmm1, ${i}`); X(`pextrb byte ptr [rdi + 80], xmm1, ${i}`); } break;
        case PM.PEXTRW_E: for (const i of [0, 3, 7, 9]) { X(`pextrw word ptr [rdi + 80], xmm1, ${i}`); X(`.byte 0x66, 0x0f, 0x3a, 0x15, 0xc8, ${i}`); } break;
        case PM.PEXTRD:
          for (const i of [0, 1, 2, 3, 5]) { X(`pextrd eax, xmm1, ${i}`); X(`pextrd dword ptr [rdi + 80], xmm1, ${i}`); }
          for (const i of [0, 1, 3]) { X(`pextrq rax, xmm1, ${i}`); X(`pextrq qword ptr [rdi + 80], xmm1, ${i}`); }
          break;
        case PM.PINSRB: for (const i of [0, 1, 7, 8, 15, 18]) { X(`pinsrb xmm0, eax, ${i}`); X(`pinsrb xmm0, ${ptr('byte')}, ${i}`); } break;
        case PM.PINSRD:
          for (const i of [0, 1, 2, 3, 6]) { X(`pinsrd xmm0, eax, ${i}`); X(`pinsrd xmm0, ${ptr('dword')}, ${i}`); }
          for (const i of [0, 1, 2]) { X(`pinsrq xmm0, rax, ${i}`); X(`pinsrq xmm0, ${ptr('qword')}, ${i}`); }
          break;
        case PM.PTEST:
          X('ptest xmm0, xmm1'); X(`ptest xmm0, ${ptr('xmmword')}`);
          add('ptest xmm0, xmm1', d, d & s); add('ptest xmm0, xmm1', d, ~d & ((1n << 128n) - 1n)); add('ptest xmm0, xmm1', 0n, 0n);
          add('ptest xmm0, xmm1', d | s, s);
          break;
        case PM.MOVNTDQA: X(`movntdqa xmm0, ${ptr('xmmword')}`); break;
      }
    }
  };
  for (const a of Object.values(PM)) byArg(a);
  // CRC32: every operand size, register and memory sources, AH-style byte registers
  for (let k = 0; k < 6; k++) {
    const s = POOL[k * 5]!;
    const o = { rax: regVals[k & 3]!, rcx: regVals[(k + 2) & 3]! ^ BigInt(k), rdx: 0xdeadbeefcafef00dn };
    for (const i of ['crc32 eax, cl', 'crc32 eax, ch', 'crc32 rax, cl', 'crc32 eax, cx', 'crc32 eax, ecx', 'crc32 rax, rcx', 'crc32 edx, al',
      `crc32 eax, byte ptr [rip + V${v(s)}]`, `crc32 eax, word ptr [rip + V${v(s)}]`, `crc32 eax, dword ptr [rip + V${v(s)}]`, `crc32 rax, qword ptr [rip + V${v(s)}]`])
      add(i, 0n, s, o);
  }
  // PCMPxSTRx: every imm8 control combination, string-like operands, explicit lengths incl. negative
  const LENS = [0n, 1n, 3n, 5n, 8n, 11n, 16n, 17n, 0xffffffffn, 0xfffffff7n, 0x80000000n, 0xffffffffffffffecn, 0x100000003n];
  let t = 0;
  for (const m of ['pcmpestri', 'pcmpestrm', 'pcmpistri', 'pcmpistrm']) {
    for (let imm = 0; imm < 128; imm++) {
      for (let k = 0; k < 2; k++) {
        t++;
        const d = STRINGS[(t * 5) % STRINGS.length]!, s = STRINGS[(t * 11 + 3) % STRINGS.length]!;
        add(`${m} xmm0, xmm1, ${imm}`, d, s, { rax: LENS[t % LENS.length]!, rdx: LENS[(t * 3 + 1) % LENS.length]! });
      }
      if (imm % 9 === 0) add(`${m} xmm0, xmmword ptr [rip + V${v(STRINGS[imm % STRINGS.length]!)} + 3], ${imm}`, STRINGS[(imm + 1) % STRINGS.length]!, 0n, { rax: 9n, rdx: 14n });
    }
    for (const imm of [0x80, 0x8c, 0xc4, 0xfe]) add(`${m} xmm0, xmm1, ${imm}`, STRINGS[imm % 20]!, STRINGS[(imm + 3) % 20]!, { rax: 7n, rdx: 12n }); // imm8[7] is reserved
    const opc = { pcmpestrm: 0x60, pcmpestri: 0x61, pcmpistrm: 0x62, pcmpistri: 0x63 }[m]!;
    for (const imm of [0x0c, 0x01, 0x44, 0x18]) // REX.W: 64-bit explicit lengths
      add(`.byte 0x66, 0x48, 0x0f, 0x3a, ${opc}, 0xc1, ${imm}`, STRINGS[imm % 20]!, STRINGS[(imm + 7) % 20]!, { rax: 0xffffffff00000005n, rdx: 0x0000000100000002n });
  }
  return out;
}

function body(cs: Case[]): string {
  const q = (x: bigint): string => '0x' + BigInt.asUintN(64, x).toString(16);
  const code = cs.map((k, i) => [
    `movdqa xmm0, [rip + V${k.d}]`, `movdqa xmm1, [rip + V${k.s}]`, `movq mm0, [rip + V${k.d}]`, `movq mm1, [rip + V${k.s}]`,
    `mov rax, ${q(k.rax)}`, `mov rcx, ${q(k.rcx)}`, `mov rdx, ${q(k.rdx)}`, `push ${k.fin}`, 'popfq', k.pre, `C${i}:`, k.insn, k.post, 'pushfq',
    'movdqu [rdi], xmm0', 'movdqu [rdi + 16], xmm1', 'movq [rdi + 32], mm0', 'movq [rdi + 40], mm1', 'mov [rdi + 48], rax', 'mov [rdi + 56], rcx',
    'mov [rdi + 64], rdx', 'pop rsi', 'mov [rdi + 72], rsi', 'add rdi, 96',
  ].join('\n')).join('\n');
  const data = VALS.map((x, i) => `.balign 16\nV${i}: .quad ${q(x & ((1n << 64n) - 1n))}, ${q(x >> 64n)}`).join('\n');
  const tab = `.balign 16\n.ascii "SIMDTAB!"\n${cs.map((_, i) => `.long C${i} - START`).join('\n')}`;
  return `START:\n${code}\nemms\nEND_CODE\n${data}\n${tab}\n`;
}

function runNative(src: string, n: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-simd-'));
  try {
    writeFileSync(join(dir, 'cases.s'), `.intel_syntax noprefix\n.text\n.globl run_cases\nrun_cases:\npush rbx\npush rbp\npush r12\npush r13\npush r14\npush r15\n${src.replace('END_CODE', 'pop r15\npop r14\npop r13\npop r12\npop rbp\npop rbx\nret')}\n.section .note.GNU-stack,"",@progbits\n`);
    writeFileSync(join(dir, 'main.c'), `#include <stdio.h>\n#include <stdlib.h>\nvoid run_cases(unsigned char *);\nint main(void){unsigned char *b=aligned_alloc(64, (${n}*96+63)/64*64);for(long i=0;i<${n}*96;i++)b[i]=0;run_cases(b);fwrite(b,1,${n}*96,stdout);return 0;}\n`);
    execFileSync('gcc', ['-O1', '-o', join(dir, 'h'), join(dir, 'main.c'), join(dir, 'cases.s')], { stdio: 'pipe' });
    return execFileSync(join(dir, 'h'), { maxBuffer: 1 << 28 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('integer SIMD instructions agree with the host CPU, and every integer SIMD row is executed', { skip: skipNative }, () => {
  const cs = cases();
  const src = body(cs);
  const native = runNative(src, cs.length);
  const ORG = 0x200000, BUF = 0x1000000;
  const bin = assemble(`mov rdi, ${BUF}\n${src.replace('END_CODE', 'hlt')}`, 64, ORG);
  const g = makeGuest(bin, 'long', simdCpuid(), 50_000_000, ORG);
  const { exit } = g.runToHalt();
  assert.equal(exit.reason, 'hlt', JSON.stringify(exit, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x)));
  // row coverage: decode each case's instruction from the assembled bytes
  const marker = Buffer.from(bin).lastIndexOf(Buffer.from('SIMDTAB!'));
  assert.ok(marker > 0);
  const dv = new DataView(bin.buffer, bin.byteOffset + marker + 8);
  const movLen = decodeOne(bin.subarray(0, 15), 64).length;
  const key = (m: string | undefined, o: string | undefined): string => `${m}|${o}`;
  const mine = new Map(SIMD_INT_ROWS.map((r) => [key(r.mnemonic, r.operands.join(',')), r]));
  assert.equal(mine.size, SIMD_INT_ROWS.length, 'row keys are unique');
  const hit = new Set<string>();
  const fails: string[] = [];
  for (let i = 0; i < cs.length; i++) {
    const off = movLen + dv.getUint32(4 * i, true);
    const dec = decodeOne(bin.subarray(off, off + 15), 64);
    const k = key(dec.mnemonic, dec.operands);
    if (mine.has(k)) hit.add(k);
    const c = cs[i]!;
    for (const [at, len, what] of [[0, 16, 'xmm0'], [16, 16, 'xmm1'], [32, 8, 'mm0'], [40, 8, 'mm1'], [48, 8, 'rax'], [56, 8, 'rcx'], [64, 8, 'rdx'], [72, 8, 'flags'], [80, 16, 'mem']] as const) {
      const o = i * 96 + at;
      let h = native.subarray(o, o + len).toString('hex'), m = Buffer.from(g.mem.subarray(BUF + o, BUF + o + len)).toString('hex');
      if (what === 'flags') { h = (native.readUInt32LE(o) & ALLF).toString(16); m = (g.dv.getUint32(BUF + o, true) & ALLF).toString(16); }
      if (h !== m) {
        fails.push(`${c.insn.replace(/\n/g, ';')} d=${VALS[c.d]!.toString(16)} s=${VALS[c.s]!.toString(16)} rax=${c.rax.toString(16)} rdx=${c.rdx.toString(16)}: ${what} host=${h} interp=${m}`);
        break;
      }
    }
  }
  assert.equal(fails.length, 0, `${fails.length}/${cs.length} cases differ:\n${[...new Map(fails.map((f) => [f.split(' ')[0], f])).values()].slice(0, 40).join('\n')}`);
  const missing = SIMD_INT_ROWS.filter((r) => !hit.has(key(r.mnemonic, r.operands.join(',')))).map((r) => `${r.prefix} ${r.map} ${r.opcode.toString(16)} ${r.mnemonic} ${r.operands.join(',')}`);
  assert.deepEqual(missing, [], 'rows never executed by the comparison');
  assert.ok(cs.length > 3000, `${cs.length} cases`);
});

test('no integer SIMD row is a placeholder: every row has an executed op', () => {
  const ops = new Set(SIMD_INT_ROWS.map((r) => r.op));
  assert.deepEqual([...ops].sort(), ['CRC32', 'PCMPSTR', 'PINT', 'PMISC', 'PSHIFTI']);
  for (const r of SIMD_INT_ROWS) assert.ok(r.prefix !== undefined, `${r.mnemonic} names its mandatory prefix`);
});

test('MMX aliasing of the x87 state: TOP := 0 with the register image rotated, tags, exponent bits on writes, EMMS', { skip: skipNative }, () => {
  // FXRSTOR an image with TOP = 3 (or 0) and distinct register contents, run one instruction, FXSAVE
  const img = (top: number, ftw: number): string => {
    const b = new Uint8Array(512);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, 0x037f, true); dv.setUint16(2, top << 11, true); b[4] = ftw; dv.setUint32(24, 0x1f80, true);
    for (let j = 0; j < 8; j++) {
      for (let k = 0; k < 8; k++) b[32 + 16 * j + k] = (0x11 * (j + 1) + 3 * k) & 0xff;
      dv.setUint16(32 + 16 * j + 8, 0x4000 + j, true);
    }
    for (let k = 160; k < 288; k++) b[k] = (k * 7) & 0xff;
    return `.byte ${[...b].join(',')}`;
  };
  const insns = ['paddb mm2, mm5', 'movd eax, mm3', 'emms', 'movq mm7, qword ptr [rip + IMG0 + 40]', 'psllq mm1, 3', 'pmovmskb eax, mm4',
    'movq2dq xmm3, mm6', 'paddb xmm0, xmm1', 'pshufw mm0, mm6, 0x1b', 'movdq2q mm3, xmm2', 'movq rax, mm0', 'movq mm4, mm2',
    'movq qword ptr [rdi + 512], mm3', 'movd dword ptr [rdi + 512], mm6', 'movntq [rdi + 512], mm1', 'pinsrw mm5, word ptr [rip + IMG0 + 40], 1',
    'lea rdi, [rdi + 512]\nmaskmovq mm2, mm5\nlea rdi, [rdi - 512]', '.byte 0x0f, 0x7f, 0xd6', 'psrlq mm6, mm2'];
  const images = [[3, 0x0f], [0, 0x00], [6, 0xc3]] as const;
  let src = '';
  let n = 0;
  for (let m = 0; m < images.length; m++) for (const i of insns) { src += `fxrstor [rip + IMG${m}]\n${i}\nfxsave [rdi]\nadd rdi, 1024\n`; n++; }
  src += 'emms\nEND_CODE\n' + images.map(([t, f], m) => `.balign 16\nIMG${m}:\n${img(t, f)}`).join('\n');
  const native = runNative(src, Math.ceil((n * 1024) / 96));
  const BUF = 0x1000000;
  const g = makeGuest(assemble(`mov rdi, ${BUF}\n${src.replace('END_CODE', 'hlt')}`, 64, 0x200000), 'long', simdCpuid(), 1_000_000, 0x200000);
  assert.equal(g.runToHalt().exit.reason, 'hlt');
  const fails: string[] = [];
  for (let c = 0; c < n; c++) {
    // FCW FSW FTW, MXCSR, ST0-7/MM0-7, XMM0-7 (FOP/FIP/FDP and MXCSR_MASK are implementation-specific)
    for (const [a, b] of [[0, 5], [24, 28], [32, 288], [512, 528]] as const) {
      const h = native.subarray(c * 1024 + a, c * 1024 + b).toString('hex');
      const m = Buffer.from(g.mem.subarray(BUF + c * 1024 + a, BUF + c * 1024 + b)).toString('hex');
      if (h !== m) fails.push(`${insns[c % insns.length]} (image ${Math.floor(c / insns.length)}) bytes ${a}-${b}:\n host ${h}\n mine ${m}`);
    }
  }
  assert.deepEqual(fails, []);
});

// ---- faults (interpreter only: the host cannot run these at CPL 0) -------------------------------
const ERRC = new Set([8, 10, 11, 12, 13, 14, 17]);
/** run `code` in a long-mode guest; handlers record the vector in r14 and the error code in r15 */
function faultOf(code: string, cpuid = simdCpuid()): { vector: number; errorCode: number; reached: boolean } {
  let h = '';
  for (let vec = 0; vec < 32; vec++) h += `.org 0x${(0x1000 + vec * 0x40).toString(16)}\n mov r14, ${vec}\n${ERRC.has(vec) ? ' pop r15\n' : ''} hlt\n`;
  const g = makeGuest(assemble(` mov r14, 0xff\n mov rsi, 0x200000\n${code}\n mov r12, 1\n hlt\n${h}`), 'long', cpuid);
  for (let vec = 0; vec < 32; vec++) {
    const off = CODE_BASE + 0x1000 + vec * 0x40, e = IDT_BASE + vec * 16;
    g.dv.setUint32(e, (off & 0xffff) | (0x08 << 16), true);
    g.dv.setUint32(e + 4, (off & 0xffff0000) | 0x8e00, true);
    g.dv.setUint32(e + 8, 0, true); g.dv.setUint32(e + 12, 0, true);
  }
  const { exit } = g.runToHalt();
  assert.equal(exit.reason, 'hlt', `${code}: ${JSON.stringify(exit, (_k, x) => (typeof x === 'bigint' ? x.toString(16) : x))}`);
  const r = g.regs();
  return { vector: Number(r.r14), errorCode: Number(r.r15), reached: r.r12 === 1n };
}
const NONE = 0xff;
const expectFault = (code: string, vector: number, cpuid?: ReturnType<typeof simdCpuid>): void => {
  const f = faultOf(code, cpuid);
  assert.equal(f.vector, vector, `${code.trim().replace(/\n\s*/g, '; ')}: vector ${f.vector}, expected ${vector}`);
  if (vector === NONE) assert.ok(f.reached, code);
  if (vector === 13) assert.equal(f.errorCode, 0, `${code}: #GP error code`);
};

test('CR0.EM, CR0.TS and CR4.OSFXSR: #UD/#NM for MMX and SSE forms; CRC32 needs neither', { skip: !haveAssembler() }, () => {
  const em = ' mov rax, cr0\n or rax, 4\n mov cr0, rax\n';
  const ts = ' mov rax, cr0\n or rax, 8\n mov cr0, rax\n';
  const nofxsr = ' mov rax, cr4\n btr rax, 9\n mov cr4, rax\n';
  for (const i of ['paddb mm0, mm1', 'paddb xmm0, xmm1', 'emms', 'pshufb mm0, mm1', 'movq2dq xmm0, mm1', 'pcmpistri xmm0, xmm1, 0', 'ptest xmm0, xmm1', 'psrlw mm1, 3']) {
    expectFault(em + i, 6);
    expectFault(ts + i, 7);
  }
  for (const i of ['paddb xmm0, xmm1', 'movq2dq xmm0, mm1', 'movdq2q mm0, xmm1', 'pmovmskb eax, xmm1', 'pcmpestri xmm0, xmm1, 0', 'psrldq xmm1, 3', 'pinsrb xmm0, eax, 1'])
    expectFault(nofxsr + i, 6);
  for (const i of ['paddb mm0, mm1', 'pmovmskb eax, mm0', 'pshufb mm0, mm1', 'emms', 'movd mm0, eax', 'pavgb mm0, mm1'])
    expectFault(nofxsr + i, NONE);
  for (const pre of [em, ts, nofxsr]) expectFault(pre + 'crc32 eax, byte ptr [rsi]', NONE);
});

test('alignment: 128-bit legacy-SSE memory operands #GP(0) unless the SDM exempts them', { skip: !haveAssembler() }, () => {
  for (const i of ['paddb xmm0, [rsi + 1]', 'ptest xmm0, [rsi + 8]', 'movntdqa xmm0, [rsi + 4]', 'pshufd xmm0, [rsi + 1], 0', 'phminposuw xmm0, [rsi + 2]',
    'palignr xmm0, [rsi + 1], 3', 'pmulld xmm0, [rsi + 12]', 'psrlw xmm0, [rsi + 1]'])
    expectFault(i, 13);
  for (const i of ['pcmpistri xmm0, [rsi + 1], 0', 'pcmpestrm xmm0, [rsi + 3], 0x40', 'pmovzxbw xmm0, [rsi + 1]', 'pmovsxdq xmm0, [rsi + 3]',
    'paddb mm0, [rsi + 1]', 'punpcklbw mm0, [rsi + 1]', 'pinsrw xmm0, [rsi + 1], 2', 'pextrd [rsi + 1], xmm0, 1', 'movq mm0, [rsi + 3]',
    'paddb xmm0, [rsi + 16]'])
    expectFault(i, NONE);
});

test('encodings the SDM does not define, LOCK, and CPUID gating are #UD', { skip: !haveAssembler() }, () => {
  for (const bytes of ['0xf3, 0x0f, 0xfc, 0xc1', '0x66, 0x0f, 0x77', '0x0f, 0x73, 0xd9, 0x01', '0x0f, 0x71, 0x16, 0x01', '0x66, 0x0f, 0xd7, 0x06',
    '0x0f, 0x6c, 0xc1', '0x0f, 0x38, 0x17, 0xc1', '0xf2, 0x0f, 0x38, 0x00, 0xc1', '0xf0, 0x66, 0x0f, 0xfc, 0x06', '0xf0, 0x0f, 0xfc, 0x06',
    '0xf2, 0x0f, 0xd6, 0x06', '0x0f, 0xe7, 0xc1', '0x66, 0x0f, 0x38, 0x2a, 0xc1', '0x66, 0x0f, 0xc5, 0x06, 0x01', '0x0f, 0xf0, 0xc1'])
    expectFault(`.byte ${bytes}`, 6);
  expectFault('pshufb xmm0, xmm1', 6, simdCpuid({ ecx: 1 << 9 }));
  expectFault('pshufb mm0, mm1', 6, simdCpuid({ ecx: 1 << 9 }));
  expectFault('pmulld xmm0, xmm1', 6, simdCpuid({ ecx: 1 << 19 }));
  expectFault('crc32 eax, bl', 6, simdCpuid({ ecx: 1 << 20 }));
  expectFault('pcmpgtq xmm0, xmm1', 6, simdCpuid({ ecx: 1 << 20 }));
  expectFault('paddb mm0, mm1', 6, simdCpuid({ edx: 1 << 23 }));
  expectFault('pshufb xmm0, xmm1', NONE);
});

test('32-bit protected mode: xmm/mm forms, MASKMOVDQU through DS:EDI and DS:DI (67h), unaligned PCMPISTRI, CRC32', { skip: !haveAssembler() }, () => {
  const code = assemble(`
    mov esi, 0x200000
    movdqa xmm0, [esi]
    paddb xmm0, [esi + 16]
    movdqa xmm1, [esi + 32]
    mov edi, 0x200100
    maskmovdqu xmm0, xmm1
    mov edi, 0x12340300
    addr16 maskmovdqu xmm0, xmm1
    movq mm0, [esi]
    pshufw mm1, mm0, 0x1b
    movq [esi + 0x140], mm1
    pextrw eax, xmm0, 3
    crc32 eax, byte ptr [esi]
    pcmpistri xmm0, [esi + 1], 0x0c
    mov [esi + 0x150], ecx
    mov [esi + 0x154], eax
    emms
    hlt`, 32);
  const g = makeGuest(code, 'prot32', simdCpuid());
  // prot32 guests start with CR4 = 0: enable OSFXSR the way a 32-bit OS would (the harness cannot)
  const s = g.vcpu.getSregs();
  g.vcpu.setSregs({ ...s, cr4: 0x600n });
  const a = Array.from({ length: 16 }, (_, i) => i * 17 + 3), b = Array.from({ length: 16 }, (_, i) => 250 - i * 9);
  const mask = Array.from({ length: 16 }, (_, i) => (i % 3 === 0 ? 0x80 : 0x7f));
  g.mem.set(a, 0x200000); g.mem.set(b, 0x200010); g.mem.set(mask, 0x200020);
  g.mem.fill(0xee, 0x200100, 0x200110); g.mem.fill(0xee, 0x300, 0x310);
  assert.equal(g.runToHalt().exit.reason, 'hlt');
  const sum = a.map((x, i) => (x + b[i]!) & 0xff);
  const masked = sum.map((x, i) => (mask[i]! & 0x80 ? x : 0xee));
  assert.deepEqual([...g.mem.subarray(0x200100, 0x200110)], masked);
  assert.deepEqual([...g.mem.subarray(0x300, 0x310)], masked); // DI only: 0x12340300 -> 0x0300
  const w = (o: number): number => a[o]! | (a[o + 1]! << 8);
  assert.deepEqual([...g.mem.subarray(0x200140, 0x200148)], [w(6) & 0xff, w(6) >> 8, w(4) & 0xff, w(4) >> 8, w(2) & 0xff, w(2) >> 8, w(0) & 0xff, w(0) >> 8]);
  // CRC32C of one byte over the PEXTRW result
  let crc = sum[6]! | (sum[7]! << 8);
  crc ^= a[0]!;
  for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  assert.equal(g.dv.getUint32(0x200154, true), crc >>> 0);
  // equal-ordered search of xmm0's implicit-length string in bytes a[1..]: checked against a direct scan
  const hay = [...a.slice(1), 0].map((x) => x);
  const needle = sum;
  const nl = needle.indexOf(0) < 0 ? 16 : needle.indexOf(0), hl = hay.indexOf(0) < 0 ? 16 : hay.indexOf(0);
  let idx = 16;
  for (let j = 0; j < 16 && idx === 16; j++) {
    let ok = true;
    for (let k = 0; k < nl && j + k < 16; k++) if (j + k >= hl || needle[k] !== hay[j + k]) { ok = false; break; }
    if (ok) idx = j;
  }
  assert.equal(g.dv.getUint32(0x200150, true), idx);
});

test('a faulting MMX instruction leaves TOP, the tags and the registers alone; the next one commits', { skip: !haveAssembler() }, () => {
  const h = `.org 0x${(0x1000 + 13 * 0x40).toString(16)}\n pop r15\n mov r14, 13\n hlt\n`;
  const g = makeGuest(assemble(` mov rax, 0x8000000000000000\n paddb mm0, [rax]\n hlt\n${h}`), 'long', simdCpuid());
  const off = CODE_BASE + 0x1000 + 13 * 0x40, e = IDT_BASE + 13 * 16;
  g.dv.setUint32(e, (off & 0xffff) | (0x08 << 16), true);
  g.dv.setUint32(e + 4, (off & 0xffff0000) | 0x8e00, true);
  const fpu = g.vcpu.getFpu();
  const fpr = Uint8Array.from({ length: 128 }, (_, i) => i);
  g.vcpu.setFpu({ ...fpu, fsw: 3 << 11, ftwx: 0x0f, fpr });
  g.runToHalt();
  assert.equal(g.regs().r14, 13n, '#GP for the non-canonical memory operand');
  const after = g.vcpu.getFpu();
  assert.equal(after.fsw, 3 << 11);
  assert.equal(after.ftwx, 0x0f);
  assert.deepEqual([...after.fpr], [...fpr]);
  // the same instruction with a register source: TOP = 0, the image rotated (R0 was ST(5)), all tags valid
  const g2 = makeGuest(assemble(' paddb mm0, mm1\n hlt'), 'long', simdCpuid());
  g2.vcpu.setFpu({ ...g2.vcpu.getFpu(), fsw: 3 << 11, ftwx: 0x0f, fpr });
  g2.runToHalt();
  const f2 = g2.vcpu.getFpu();
  assert.equal(f2.fsw, 0);
  assert.equal(f2.ftwx, 0xff);
  const st = (j: number): number[] => [...fpr.subarray(16 * j, 16 * j + 16)];
  const sum = st(5).slice(0, 8).map((x, i) => (x + st(6)[i]!) & 0xff);
  assert.deepEqual([...f2.fpr.subarray(0, 10)], [...sum, 0xff, 0xff], 'mm0 = R0 = old ST(5) + R1 = old ST(6); exponent all ones');
  assert.deepEqual([...f2.fpr.subarray(16, 32)], st(6));
});
