// General-purpose instruction semantics checked against the host CPU itself (DESIGN.md §5.3): the same
// assembled case list runs natively (a gcc-built harness) and on the interpreter in 64-bit mode;
// results and every flag the SDM defines for the instruction must agree. Skipped without gcc/as.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assemble, haveAssembler, makeGuest } from './testing/harness.ts';

const ALL = 0x8d5, CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
const haveGcc = spawnSync('gcc', ['--version']).status === 0;

interface Case { insn: string; a: bigint; b: bigint; c: bigint; d: bigint; fin: number; mask: number }

const REGS: Record<number, [string, string, string, string]> = {
  8: ['al', 'bl', 'cl', 'dl'], 16: ['ax', 'bx', 'cx', 'dx'], 32: ['eax', 'ebx', 'ecx', 'edx'], 64: ['rax', 'rbx', 'rcx', 'rdx'],
};
const V = [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn,
  0x7fffffffffffffffn, 0x8000000000000000n, 0xffffffffffffffffn, 0x123456789abcdef0n, 0xfedcba9876543211n];
const FIN = [0x202, 0x202 | ALL];

function cases(): Case[] {
  const out: Case[] = [];
  const add = (insn: string, a: bigint, b: bigint, mask: number, c = 0n, d = 0n): void => {
    for (const fin of FIN) out.push({ insn, a, b, c, d, fin, mask });
  };
  for (const size of [8, 16, 32, 64]) {
    const [ra, rb] = REGS[size]!;
    for (const op of ['add', 'adc', 'sub', 'sbb', 'cmp', 'and', 'or', 'xor', 'test']) {
      const m = ['and', 'or', 'xor', 'test'].includes(op) ? ALL & ~AF : ALL;
      for (const a of V) for (const b of V.slice(0, 12)) add(`${op} ${ra}, ${rb}`, a, b, m);
      add(`${op} ${ra}, 0x7f`, 0x7fn, 0n, m);
      add(`${op} ${ra}, -3`, 0x1234n, 0n, m);
    }
    for (const op of ['inc', 'dec', 'neg', 'not']) for (const a of V) add(`${op} ${ra}`, a, 0n, ALL);
    const mc = size === 64 ? 63 : 31;
    for (const op of ['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr']) {
      for (const cnt of [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63]) {
        const n = cnt & mc;
        let mask = ALL;
        if (n !== 0) {
          const shiftOp = ['shl', 'shr', 'sar'].includes(op);
          if (shiftOp) mask = n === 1 ? ALL & ~AF : CF | SF | ZF | PF;
          else mask = n === 1 ? ALL : ALL & ~OF;
          if (shiftOp && n >= size) mask &= ~CF & ~OF; // 8/16-bit counts beyond the width
          if (op === 'rcl' || op === 'rcr') { if (n !== 1) mask &= ~OF; }
        }
        for (const a of [0x81n, 0x8001n, 0x80000001n, 0x8000000000000001n, 0x123456789abcdef0n, 0xffffffffffffffffn, 0n])
          add(`${op} ${ra}, cl`, a, 0n, mask, BigInt(cnt));
      }
      add(`${op} ${ra}, 1`, 0xc0000000000000c0n, 0n, ['shl', 'shr', 'sar'].includes(op) ? ALL & ~AF : ALL);
    }
    if (size >= 16) {
      for (const op of ['shld', 'shrd']) for (const cnt of [1, 2, 4, 8, 13, size === 16 ? 15 : 31, size === 64 ? 63 : 0])
        for (const [a, b] of [[0x8123456789abcdefn, 0xfedcba9876543210n], [1n, 0x8000000000000000n], [0xffffn, 0n]])
          add(`${op} ${ra}, ${rb}, cl`, a!, b!, cnt === 1 ? ALL & ~AF : (CF | SF | ZF | PF), BigInt(cnt));
      for (const a of V) for (const b of V.slice(0, 10)) {
        add(`imul ${ra}, ${rb}`, a, b, CF | OF);
        add(`imul ${ra}, ${rb}, -7`, a, b, CF | OF);
      }
      for (const op of ['bsf', 'bsr']) for (const b of V.slice(1)) add(`${op} ${ra}, ${rb}`, 0n, b, ZF);
      for (const op of ['bt', 'bts', 'btr', 'btc']) for (const b of [0n, 5n, 31n, 63n, 100n]) add(`${op} ${ra}, ${rb}`, 0x8000000180000021n, b, CF | ZF);
      for (const op of ['popcnt', 'lzcnt', 'tzcnt']) for (const b of V) add(`${op} ${ra}, ${rb}`, 0n, b, op === 'popcnt' ? ALL : CF | ZF);
      for (const a of V) for (const b of V.slice(0, 8)) add(`xadd ${ra}, ${rb}`, a, b, ALL);
      for (const b of V.slice(0, 8)) { add(`cmpxchg ${rb}, ${REGS[size]![3]}`, b, b, ALL, 0n, 0x55n); add(`cmpxchg ${rb}, ${REGS[size]![3]}`, 1n, b, ALL, 0n, 0x55n); }
    }
    for (const a of V) for (const b of V.slice(0, 10)) {
      add(`mul ${rb}`, a, b, CF | OF, 0n, 0n);
      add(`imul ${rb}`, a, b, CF | OF, 0n, 0n);
    }
    for (const [a, b] of [[100n, 7n], [0xffffn, 0x10n], [0x7fffffffn, 3n], [0x123456789abcdef0n, 0x1234567n], [5n, 0xffn], [0xf0n, 0xf1n]]) {
      const m = (1n << BigInt(size)) - 1n;
      const dividend = size === 8 ? a! & 0xffffn : a! & m;
      if ((b! & m) !== 0n && dividend / (b! & m) <= (size === 8 ? 0xffn : m)) add(`div ${rb}`, a!, b!, 0, 0n, 0n);
    }
    if (size === 64) {
      add('div rbx', 0x123456789abcdef0n, 0x123456789n, 0, 0n, 0x12345n);
      add('idiv rbx', 0xfffffffffffffff0n, 3n, 0, 0n, 0xffffffffffffffffn);
      add('idiv rbx', 1000n, 0xfffffffffffffff9n, 0, 0n, 0n);
    }
    if (size === 32) {
      add('div ebx', 0x9abcdef0n, 0x87654321n, 0, 0n, 0x12345678n);
      add('idiv ebx', 0xfffffff0n, 3n, 0, 0n, 0xffffffffn);
      add('idiv ebx', 0x10n, 0xfffffffdn, 0, 0n, 0n);
    }
    if (size >= 32) {
      const [ra2, rb2, rc2] = REGS[size]!;
      for (const a of V) for (const b of V.slice(0, 8)) {
        add(`andn ${ra2}, ${rb2}, ${rc2}`, a, b, ALL & ~(AF | PF), 0x0ff00ff00ff00ff0n);
        add(`blsr ${ra2}, ${rb2}`, a, b, ALL & ~(AF | PF));
        add(`blsi ${ra2}, ${rb2}`, a, b, ALL & ~(AF | PF));
        add(`blsmsk ${ra2}, ${rb2}`, a, b, ALL & ~(AF | PF));
        add(`adcx ${ra2}, ${rb2}`, a, b, ALL);
        add(`adox ${ra2}, ${rb2}`, a, b, ALL);
        add(`pdep ${ra2}, ${rb2}, ${rc2}`, a, b, ALL, 0xf0f0f0f0f0f0f0f0n);
        add(`pext ${ra2}, ${rb2}, ${rc2}`, a, b, ALL, 0xf0f0f0f0f0f0f0f0n);
        add(`mulx ${ra2}, ${rb2}, ${rc2}`, a, b, ALL, 0x123456789n, a);
      }
      for (const ctl of [0n, 0x0804n, 0x2010n, 0x4000n, 0x20n, 0xff03n, 64n, 31n]) {
        add(`bextr ${ra2}, ${rb2}, ${rc2}`, 0n, 0xfedcba9876543210n, ZF | CF | OF, ctl);
        add(`bzhi ${ra2}, ${rb2}, ${rc2}`, 0n, 0xfedcba9876543210n, ZF | CF | SF | OF, ctl);
        add(`sarx ${ra2}, ${rb2}, ${rc2}`, 0n, 0x8edcba9876543210n, ALL, ctl);
        add(`shlx ${ra2}, ${rb2}, ${rc2}`, 0n, 0x8edcba9876543210n, ALL, ctl);
        add(`shrx ${ra2}, ${rb2}, ${rc2}`, 0n, 0x8edcba9876543210n, ALL, ctl);
      }
      for (const n of [0, 1, 7, 31]) add(`rorx ${ra2}, ${rb2}, ${n}`, 0n, 0x8edcba9876543211n, ALL);
      add(`bswap ${ra2}`, 0x0102030405060708n, 0n, ALL);
      add(`mov [rsp-64], ${rb2}\n movbe ${ra2}, [rsp-64]`, 0n, 0x0102030405060708n, ALL);
    }
    if (size === 16) add(`mov [rsp-64], bx\n movbe ax, [rsp-64]`, 0n, 0x0102n, ALL);
  }
  // CMP/SUB followed by SETcc: the fused-compare fast path, every condition and width
  const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
  for (const size of [8, 16, 32, 64]) {
    const [ra, rb] = REGS[size]!;
    for (const n of CC) for (const a of [0n, 1n, 0x7fn, 0x80n, 0x8000n, 0xffffffffn, 0x8000000000000000n, 0xffffffffffffffffn]) for (const b of [0n, 1n, 0x80n, 0xffffn, 0x7fffffffn, 0xffffffffffffffffn])
      out.push({ insn: `cmp ${ra}, ${rb}\n set${n} cl\n sub ${ra}, ${rb}\n set${n} dl`, a, b, c: 0n, d: 0n, fin: 0x202, mask: ALL });
  }
  for (let cc = 0; cc < 16; cc++) {
    const n = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'][cc];
    for (const f of [0, CF, ZF, SF, OF, PF, SF | OF, ZF | CF, ZF | SF]) {
      out.push({ insn: `set${n} al`, a: 0x1234n, b: 0n, c: 0n, d: 0n, fin: 0x202 | f, mask: ALL });
      out.push({ insn: `cmov${n} eax, ebx`, a: 0xffffffff00000001n, b: 0x22n, c: 0n, d: 0n, fin: 0x202 | f, mask: ALL });
      out.push({ insn: `cmov${n} rax, rbx`, a: 0x1n, b: 0x8000000000000022n, c: 0n, d: 0n, fin: 0x202 | f, mask: ALL });
    }
  }
  for (const i of ['cbw', 'cwde', 'cdqe', 'cwd', 'cdq', 'cqo', 'movzx eax, bl', 'movzx rax, bx', 'movsx eax, bl', 'movsx rax, bx', 'movsxd rax, ebx', 'movsx ax, bl',
    'lea rax, [rbx+rcx*4+0x10]', 'lea eax, [rbx+rcx*8-1]', 'lea ax, [rbx+rcx]', 'xchg eax, ebx', 'xchg ax, bx', 'mov ah, bl', 'mov bh, al', 'lahf', 'sahf', 'cmc', 'clc', 'stc'])
    for (const a of [0x8080n, 0x80008000n, 0x7f7f7f7f80000000n, 0xd5n]) for (const fin of FIN) out.push({ insn: i, a, b: a ^ 0x55aa55aa55n, c: 3n, d: 0x1234n, fin, mask: ALL });
  return out;
}

function body(cs: Case[]): string {
  const q = (v: bigint): string => '0x' + BigInt.asUintN(64, v).toString(16);
  return cs.map((k) => [
    `mov rax, ${q(k.a)}`, `mov rbx, ${q(k.b)}`, `mov rcx, ${q(k.c)}`, `mov rdx, ${q(k.d)}`,
    `push ${k.fin}`, 'popfq', k.insn, 'pushfq',
    'mov [rdi], rax', 'mov [rdi+8], rbx', 'mov [rdi+16], rcx', 'mov [rdi+24], rdx', 'pop rsi', 'mov [rdi+32], rsi', 'add rdi, 40',
  ].join('\n')).join('\n');
}

function runNative(src: string, n: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-host-'));
  try {
    writeFileSync(join(dir, 'cases.s'), `.intel_syntax noprefix\n.text\n.globl run_cases\nrun_cases:\npush rbx\npush rbp\npush r12\npush r13\npush r14\npush r15\n${src}\npop r15\npop r14\npop r13\npop r12\npop rbp\npop rbx\nret\n.section .note.GNU-stack,"",@progbits\n`);
    writeFileSync(join(dir, 'main.c'), `#include <stdio.h>\n#include <stdlib.h>\nvoid run_cases(unsigned long *);\nint main(void){unsigned long *b=calloc(${n}*5,8);run_cases(b);fwrite(b,8,${n}*5,stdout);return 0;}\n`);
    execFileSync('gcc', ['-O1', '-o', join(dir, 'h'), join(dir, 'main.c'), join(dir, 'cases.s')], { stdio: 'pipe' });
    return execFileSync(join(dir, 'h'), { maxBuffer: 1 << 28 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('general-purpose instructions agree with the host CPU (results and defined flags)', { skip: !haveGcc || !haveAssembler() }, () => {
  const cs = cases();
  const src = body(cs);
  const native = runNative(src, cs.length);
  const ORG = 0x200000, BUF = 0x1000000;
  const g = makeGuest(assemble(`mov rdi, ${BUF}\n${src}\nhlt`, 64, ORG), 'long', undefined, 50_000_000, ORG);
  const { exit } = g.runToHalt();
  assert.equal(exit.reason, 'hlt', JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)));
  const fails: string[] = [];
  for (let i = 0; i < cs.length; i++) {
    const k = cs[i]!;
    for (let w = 0; w < 5; w++) {
      const off = i * 40 + w * 8;
      let h = native.readBigUInt64LE(off), m = g.dv.getBigUint64(BUF + off, true);
      if (w === 4) { h &= BigInt(k.mask); m &= BigInt(k.mask); }
      if (k.mask === 0 && w === 4) continue;
      if (h !== m) {
        fails.push(`${k.insn.replace(/\n/g, ';')} a=${k.a.toString(16)} b=${k.b.toString(16)} c=${k.c} d=${k.d.toString(16)} fin=${k.fin.toString(16)}: ${['rax', 'rbx', 'rcx', 'rdx', 'flags'][w]} host=${h.toString(16)} interp=${m.toString(16)}`);
        break;
      }
    }
  }
  assert.equal(fails.length, 0, `${fails.length}/${cs.length} cases differ:\n${[...new Map(fails.map((f) => [f.split(' a=')[0], f])).values()].slice(0, 40).join('\n')}`);
});
