// Tier 1 (compile.ts) against the interpreter: the same guest code run with compiled blocks and with
// everything interpreted must leave identical registers, flags, memory and instruction counts (SDM
// Vol. 2 instruction pages define both; the interpreter is checked against the host CPU in
// alu.test.ts). Also: a fault inside a compiled block, self-modifying code inside a block, the
// instruction budget, and code the VMM rewrites between two runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, haveAssembler, makeGuest, CODE_BASE, IDT_BASE, type Guest, type GuestMode } from './testing/harness.ts';
import { Tier1, tier1Of } from './compile.ts';
import type { Cpu } from './cpu.ts';

const skip = !haveAssembler() ? 'GNU as not available' : false;
const BUF = 0x200000;

const cpuOf = (g: Guest): Cpu => (g.vcpu as unknown as { cpu: Cpu }).cpu;

/** deterministic pseudo-random numbers (xorshift32) */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return x >>> 0;
  };
}

const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

/** A random mix of the instruction forms Tier 1 emits inline (and some it hands to execute()). */
function randomBody(bits: 32 | 64, seed: number, count: number): string {
  const r = rng(seed);
  const pick = <T>(a: readonly T[]): T => a[r() % a.length]!;
  const R64 = ['rax', 'rbx', 'rdx', 'rbp', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13'];
  const R32 = bits === 64 ? ['eax', 'ebx', 'edx', 'ebp', 'edi', 'r8d', 'r9d', 'r12d'] : ['eax', 'ebx', 'edx', 'ebp', 'edi'];
  const R16 = ['ax', 'bx', 'dx', 'bp', 'di'];
  const R8 = ['al', 'bl', 'dl', 'ah', 'bh', 'dh'];
  const sizes = bits === 64 ? [8, 4, 2, 1] : [4, 2, 1];
  const regs = (s: number): string[] => (s === 8 ? R64 : s === 4 ? R32 : s === 2 ? R16 : R8);
  const ptr = (s: number): string => (s === 8 ? 'qword' : s === 4 ? 'dword' : s === 2 ? 'word' : 'byte');
  const base = bits === 64 ? 'rsi' : 'esi';
  const mem = (s: number): string => `${ptr(s)} ptr [${base} + ${(r() % 64) * 8}]`;
  const imm = (s: number): number => (s === 1 ? r() % 256 - 128 : (r() % 0x10000) - 0x8000);
  const alu = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test'];
  const out: string[] = [];
  let label = 0;
  for (let i = 0; i < count; i++) {
    const s = pick(sizes);
    const a = pick(regs(s)), b = pick(regs(s));
    switch (r() % 16) {
      case 0: case 1: out.push(`${pick(alu)} ${a}, ${b}`); break;
      case 2: out.push(`${pick(alu)} ${a}, ${imm(s)}`); break;
      case 3: out.push(`${pick(alu)} ${a}, ${mem(s)}`); break;
      case 4: out.push(`${pick(alu.filter((x) => x !== 'test'))} ${mem(s)}, ${b}`); break;
      case 5: out.push(`${pick(['inc', 'dec', 'not', 'neg'])} ${r() % 3 === 0 ? mem(s) : a}`); break;
      case 6: out.push(`${pick(['shl', 'shr', 'sar', 'rol', 'ror'])} ${a}, ${1 + (r() % (s * 8 - 1))}`); break;
      case 7: if (s >= 2) out.push(r() % 2 ? `imul ${a}, ${b}, ${imm(s)}` : `imul ${a}, ${b}`); break;
      case 8: {
        const d = pick(['eax', 'ebx', 'edx', 'ebp', 'edi']); // no REX: AH/BH/DH stay encodable
        out.push(r() % 2 ? `movzx ${d}, ${pick(R8)}` : `movsx ${d}, ${pick(R16)}`);
        if (bits === 64 && r() % 2) out.push(`movsxd ${pick(R64)}, ${pick(R32)}`);
        break;
      }
      case 9: if (s >= 2) out.push(`cmov${pick(CC)} ${a}, ${r() % 2 ? b : mem(s)}`); break;
      case 10: out.push(`set${pick(CC)} ${r() % 2 ? pick(R8) : mem(1)}`); break;
      case 11: out.push(`mov ${a}, ${r() % 3 === 0 ? mem(s) : b}`, `mov ${mem(s)}, ${b}`); break;
      case 12: {
        const w = bits === 64 ? R64 : R32;
        out.push(`lea ${pick(w)}, [${pick(w)} + ${pick(w)}*${pick([1, 2, 4, 8])} + ${imm(4)}]`);
        break;
      }
      case 13: {
        const w = bits === 64 ? R64 : R32;
        out.push(`push ${pick(w)}`, `pop ${pick(w)}`);
        break;
      }
      case 14: {
        // a producer and a conditional branch over one instruction (fused conditions)
        out.push(`${pick(['cmp', 'sub', 'test', 'and', 'add'])} ${a}, ${b}`, `${r() % 4 === 0 ? 'jmp' : 'j' + pick(CC)} L${bits}_${seed}_${label}`, `xor ${pick(regs(s))}, ${imm(s)}`, `L${bits}_${seed}_${label}:`);
        label++;
        break;
      }
      default: out.push(pick(['clc', 'stc', 'cmc', 'xchg eax, ebx', 'bt edx, 5', 'bsf eax, edx', 'mul ebx', 'cdq', 'call helper', 'call helper2']));
    }
  }
  return out.join('\n');
}

interface Snapshot { regs: string; icount: number; mem: number[] }

function runProgram(src: string, mode: GuestMode, tier1: boolean, budget?: number): { g: Guest; snap: Snapshot; compiled: number } {
  const was = Tier1.enabled;
  Tier1.enabled = tier1;
  try {
    const g = makeGuest(assemble(src, mode === 'long' ? 64 : 32), mode, undefined, budget);
    for (let i = 0; i < 512; i++) g.dv.setUint32(BUF + 4 * i, Math.imul(i + 1, 0x9e3779b1) >>> 0, true);
    const { exit } = g.runToHalt();
    assert.equal(exit.reason, 'hlt', JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)));
    const snap = {
      regs: JSON.stringify(g.regs(), (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)),
      icount: cpuOf(g).icount,
      mem: Array.from(g.mem.subarray(BUF, BUF + 0x800)),
    };
    return { g, snap, compiled: tier1Of(cpuOf(g)).compiled };
  } finally {
    Tier1.enabled = was;
  }
}

for (const bits of [64, 32] as const) {
  test(`Tier 1: random ${bits}-bit instruction mixes in a hot loop leave the interpreter's state`, { skip }, () => {
    for (let seed = 1; seed <= 6; seed++) {
      const base = bits === 64 ? 'rsi' : 'esi';
      const src = ` mov ${base}, ${BUF}\n mov ecx, 60\n mov eax, 0x12345678\n mov ebx, 0x9abcdef0\n mov edx, 0x0f0f1234\n mov ebp, 7\n mov edi, -3\n` +
        `loop_top:\n${randomBody(bits, seed * 7919 + bits, 40)}\n` +
        (bits === 64 ? ' pushfq\n pop rdi\n add [rsi + 0x600], rdi\n' : ' pushfd\n pop edi\n add [esi + 0x600], edi\n') +
        ' dec ecx\n jnz loop_top\n hlt\n' +
        (bits === 64 ? 'helper:\n add r13, rcx\n ret\nhelper2:\n push rax\n add rax, rbx\n pop rbx\n ret 0\n'
          : 'helper:\n add edi, ecx\n ret\nhelper2:\n push eax\n add eax, ebx\n pop ebx\n ret 0\n');
      const on = runProgram(src, bits === 64 ? 'long' : 'prot32', true);
      const off = runProgram(src, bits === 64 ? 'long' : 'prot32', false);
      assert.ok(on.compiled > 0, `seed ${seed}: nothing was compiled`);
      assert.equal(off.compiled, 0);
      assert.deepEqual(on.snap, off.snap, `seed ${seed}: compiled and interpreted runs differ`);
    }
  });
}

test('Tier 1: a #PF inside a compiled block is delivered at the faulting instruction with the earlier ones retired', { skip }, () => {
  // the loop walks rdx up by 64 KiB into a 2-MiB page made not present; the #PF handler records the
  // pushed RIP, CR2 and the loop's registers
  const src = ` mov edx, 0x800000\n xor ebx, ebx\nloop_top:\n add rbx, 3\n lea rdx, [rdx + 0x10000]\nfault_here:\n mov rax, [rdx]\n inc r8\n jmp loop_top\n` +
    `.org 0x1000\n mov r9, [rsp + 8]\n mov r10, cr2\n lea r11, [rip + fault_here]\n hlt\n`;
  const install = (g: Guest): void => {
    const off = CODE_BASE + 0x1000, e = IDT_BASE + 14 * 16;
    g.dv.setUint32(e, (off & 0xffff) | (0x08 << 16), true);
    g.dv.setUint32(e + 4, (off & 0xffff0000) | 0x8e00, true);
    g.dv.setUint32(0x4000 + 8 * 8, 0, true); // PDE of 0x1000000-0x11fffff: not present
  };
  const results: string[] = [];
  for (const on of [true, false]) {
    const was = Tier1.enabled;
    Tier1.enabled = on;
    try {
      const g = makeGuest(assemble(src));
      install(g);
      const { exit } = g.runToHalt();
      assert.equal(exit.reason, 'hlt');
      const r = g.regs();
      assert.equal(r.r9, r.r11, 'the pushed RIP is the faulting MOV');
      assert.equal(r.r10, 0x1000000n, 'CR2');
      assert.equal(r.rbx, 3n * 0x80n, 'the ADDs before the fault retired, the fault stopped the loop');
      assert.equal(r.r8, 0x7fn);
      if (on) assert.ok(tier1Of(cpuOf(g)).compiled > 0);
      results.push(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v)) + ' ' + cpuOf(g).icount);
    } finally {
      Tier1.enabled = was;
    }
  }
  assert.equal(results[0], results[1]);
});

test('Tier 1: a store that rewrites a later instruction of the running block takes effect at once', { skip }, () => {
  // each pass stores the counter into the imm32 of "patched" (same block, after the store)
  const src = ` mov ecx, 200\n xor ebx, ebx\nloop_top:\n mov dword ptr [rip + patched + 1], ecx\npatched:\n mov eax, 0\n add rbx, rax\n dec ecx\n jnz loop_top\n hlt\n`;
  const on = runProgram(src, 'long', true);
  const off = runProgram(src, 'long', false);
  assert.equal(on.g.regs().rbx, 200n * 201n / 2n);
  assert.deepEqual(on.snap, off.snap);
});

test('Tier 1: the instruction budget is exact (intr exits at multiples of the budget)', { skip }, () => {
  const was = Tier1.enabled;
  try {
    const programs = [
      ` mov ecx, 20000\nloop_top:\n add eax, ecx\n xor ebx, eax\n dec ecx\n jnz loop_top\n hlt\n`,
      // a side exit back to the block entry in the middle of the block (passes of 3 and of 6 instructions)
      ` mov ecx, 20000\nloop_top:\n inc eax\n test eax, 1\n jnz loop_top\n add ebx, eax\n dec ecx\n jnz loop_top\n hlt\n`,
    ];
    for (const src of programs) {
      const counts: number[] = [];
      for (const on of [true, false]) {
        Tier1.enabled = on;
        const g = makeGuest(assemble(src), 'long', undefined, 1000);
        const c = cpuOf(g);
        let intr = 0;
        for (;;) {
          const e = g.vcpu.run();
          if (e.reason !== 'intr') { assert.equal(e.reason, 'hlt'); break; }
          intr++;
          assert.equal(c.icount, 1000 * intr, 'an intr exit after exactly the budget');
        }
        if (on) assert.ok(tier1Of(c).runs > 0);
        counts.push(c.icount);
      }
      assert.equal(counts[0], counts[1]);
    }
  } finally {
    Tier1.enabled = was;
  }
});

test('Tier 1: code the VMM rewrites between two runs is re-read (soft epoch byte check)', { skip }, () => {
  const was = Tier1.enabled;
  Tier1.enabled = true;
  try {
    // an endless loop adding an immediate; OUT exits let the VMM patch the immediate
    const code = assemble(`loop_top:\n add rbx, 1\n add rax, 0x11111\n out 0x80, al\n jmp loop_top\n`);
    const g = makeGuest(code);
    const at = CODE_BASE + 6; // 48 83 C3 01, then 48 05 imm32: ADD RAX, imm32
    assert.deepEqual([g.mem[at - 2], g.mem[at - 1]], [0x48, 0x05]);
    for (let i = 0; i < 100; i++) assert.equal(g.vcpu.run().reason, 'io');
    assert.ok(tier1Of(cpuOf(g)).compiled > 0);
    const before = g.regs();
    g.dv.setUint32(at, 0x1000, true); // the VMM writes guest memory directly
    for (let i = 0; i < 10; i++) assert.equal(g.vcpu.run().reason, 'io');
    const after = g.regs();
    assert.equal(after.rax - before.rax, 10n * 0x1000n);
  } finally {
    Tier1.enabled = was;
  }
});
