// Host-CPU oracle for the floating-point SSE tests (DESIGN.md §5.3): case records (XMM0-2, MXCSR, RAX
// in), one loop per instruction form running an assembly snippet over its records, executed natively
// by a gcc-built harness and on the interpreter; the output records (XMM0-2, RAX, MXCSR, RFLAGS) are
// compared. Instruction semantics: Intel SDM Vol. 1 Ch. 10-11, Vol. 2 per-instruction pages.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDT_BASE, assemble, makeGuest, type Guest } from './harness.ts';

/** guest layout of the host-comparison tests: code at ORG, input records at IN (outputs 8 MiB above), scratch */
export const ORG = 0x200000, IN = 0x1000000, SCRATCH = 0x1f00000;

/** input record: XMM0 @0, XMM1 @16, XMM2 @32, MXCSR @48, RAX @56; output: XMM0-2, RAX @48, MXCSR @56, RFLAGS @60 */
export const REC = 64;

export interface Form {
  name: string;
  /** assembly run with the record loaded; RSI = input record, R12 = 512-byte scratch (16-aligned) */
  asm: string;
  /** input records, REC bytes each */
  cases: Uint8Array;
  /** optional per-case comparison of the output bytes; default: all 64 bytes equal */
  cmp?: (host: DataView, interp: DataView, off: number) => string | undefined;
}

export const haveGcc = spawnSync('gcc', ['--version']).status === 0;

export function hostHas(flag: string): boolean {
  try {
    return new RegExp(`\\b${flag}\\b`).test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * The shared body: one loop per form over its records (RSI in, RDI out, R12 scratch). A faulting
 * instruction resumes at the form's `.Lafter` label (address in R14) with RBX = 0x1000 | vector instead
 * of RFLAGS: natively through the SIGFPE/SIGSEGV handler (which edits the signal context, so the FP
 * state at the fault is what the record stores), on the interpreter through the IDT handlers of
 * `guestPrologue`.
 */
export function body(forms: Form[]): string {
  const out: string[] = [];
  forms.forEach((f, i) => {
    const n = f.cases.length / REC;
    out.push(
      `mov r13d, ${n}`,
      `.Lform${i}:`,
      'movdqu xmm0, [rsi]', 'movdqu xmm1, [rsi+16]', 'movdqu xmm2, [rsi+32]', 'ldmxcsr [rsi+48]', 'mov rax, [rsi+56]',
      'push 0x202', 'popfq',
      `lea r14, [rip+.Lafter${i}]`,
      f.asm,
      'pushfq', 'pop rbx',
      `.Lafter${i}:`,
      'movdqu [rdi], xmm0', 'movdqu [rdi+16], xmm1', 'movdqu [rdi+32], xmm2', 'mov [rdi+48], rax', 'stmxcsr [rdi+56]', 'mov [rdi+60], ebx',
      'add rsi, 64', 'add rdi, 64', 'dec r13d', `jnz .Lform${i}`,
    );
  });
  return out.join('\n');
}

/** run the body natively: returns the output records */
export function runNative(src: string, input: Uint8Array): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-fp-'));
  try {
    writeFileSync(join(dir, 'in.bin'), input);
    writeFileSync(join(dir, 'cases.s'), [
      '.intel_syntax noprefix', '.text', '.globl run_cases', 'run_cases:',
      'push rbx', 'push rbp', 'push r12', 'push r13', 'push r14', 'push r15', 'sub rsp, 8', 'stmxcsr [rsp]',
      'mov r8, rdi', 'mov rdi, rsi', 'mov rsi, r8', 'mov r12, rdx',
      src,
      'emms', 'ldmxcsr [rsp]', 'add rsp, 8', 'pop r15', 'pop r14', 'pop r13', 'pop r12', 'pop rbp', 'pop rbx', 'ret',
      '.section .note.GNU-stack,"",@progbits', '',
    ].join('\n'));
    writeFileSync(join(dir, 'main.c'), `#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>
void run_cases(void *in, void *out, void *scratch);
static void on_fault(int sig, siginfo_t *si, void *ctx) {
  ucontext_t *uc = ctx;
  (void)sig; (void)si;
  uc->uc_mcontext.gregs[REG_RBX] = 0x1000 | uc->uc_mcontext.gregs[REG_TRAPNO];
  uc->uc_mcontext.gregs[REG_RIP] = uc->uc_mcontext.gregs[REG_R14];
}
int main(int argc, char **argv) {
  struct sigaction sa = { 0 };
  sa.sa_sigaction = on_fault; sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGFPE, &sa, 0); sigaction(SIGSEGV, &sa, 0);
  FILE *f = fopen(argv[1], "rb"); fseek(f, 0, SEEK_END); long n = ftell(f); fseek(f, 0, SEEK_SET);
  unsigned char *in = aligned_alloc(64, n + 64), *out = aligned_alloc(64, n + 64), *scr = aligned_alloc(64, 1024);
  if (fread(in, 1, n, f) != (size_t)n) return 2;
  run_cases(in, out, scr);
  fwrite(out, 1, n, stdout);
  return 0;
}
`);
    execFileSync('gcc', ['-O1', '-o', join(dir, 'h'), join(dir, 'main.c'), join(dir, 'cases.s')], { stdio: 'pipe' });
    return execFileSync(join(dir, 'h'), [join(dir, 'in.bin')], { maxBuffer: 1 << 30 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Guest code placed before the body: IDT gates for #UD (6), #NM (7), #GP (13), #MF (16) and #XM (19) whose handlers drop
 * the exception frame and resume at R14 with RBX = 0x1000 | vector (like the native signal handler).
 */
export const GUEST_PROLOGUE = [
  'jmp .Lstart', '.org 0x40',
  'add rsp, 40', 'mov ebx, 0x1006', 'jmp r14', '.org 0x60',
  'add rsp, 48', 'mov ebx, 0x100d', 'jmp r14', '.org 0x80',
  'add rsp, 40', 'mov ebx, 0x1013', 'jmp r14', '.org 0xa0',
  'add rsp, 40', 'mov ebx, 0x1007', 'jmp r14', '.org 0xc0',
  'add rsp, 40', 'mov ebx, 0x1010', 'jmp r14', '.Lstart:',
].join('\n');
export const HANDLERS: [number, number][] = [[6, 0x40], [13, 0x60], [19, 0x80], [7, 0xa0], [16, 0xc0]];

/** write 64-bit interrupt gates (SDM Vol. 3A §6.14.1) for the prologue's handlers at `org` */
export function installGates(dv: DataView, idtBase: number, org: number): void {
  for (const [v, off] of HANDLERS) {
    const a = org + off, g = idtBase + 16 * v;
    dv.setUint32(g, (a & 0xffff) | (0x08 << 16), true);
    dv.setUint32(g + 4, 0x8e00 | (a & 0xffff0000), true);
    dv.setUint32(g + 8, 0, true);
    dv.setUint32(g + 12, 0, true);
  }
}

// ---- value sets -------------------------------------------------------------------------------------

/** deterministic PRNG (xorshift32) */
export function rng(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s >>> 0;
  };
}

export const F32_SPECIAL = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40000000, 0x40400000, 0xc0200000, 0x3f000000, 0xbf000000,
  0x3dcccccd, 0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00800000, 0x80800000, 0x00c00000, 0x00800001,
  0x7f7fffff, 0xff7fffff, 0x7f000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7fc12345, 0xffd00001,
  0x7f800001, 0xff812345, 0x7fa00000, 0x4b800001, 0x4b7fffff, 0x4effffff, 0x4f000000, 0xcf000000, 0xcf000001,
  0x5effffff, 0x5f000000, 0xdf000000, 0xdf000001, 0x3fa00000, 0x40200000, 0xc0600000, 0x34000000, 0x33800000,
  0x0c000000, 0x20000000, 0x5f800000, 0x1f800000,
  // x * (1 - 2^-23) just below the smallest normal: tiny before rounding, not after (round to nearest)
  0x3f7ffffe, 0xbf7ffffe, 0x80800001,
].map((v) => v | 0);

export const F64_SPECIAL: [number, number][] = [
  [0, 0], [0, 0x80000000], [0, 0x3ff00000], [0, 0xbff00000], [0, 0x3ff80000], [0, 0x40000000], [0, 0x40080000], [0, 0xc0040000],
  [0, 0x3fe00000], [0, 0xbfe00000], [0x9999999a, 0x3fb99999], [1, 0], [1, 0x80000000], [0xffffffff, 0x000fffff], [0xffffffff, 0x800fffff],
  [0, 0x00100000], [0, 0x80100000], [0, 0x00180000], [1, 0x00100000], [0xffffffff, 0x7fefffff], [0xffffffff, 0xffefffff],
  [0, 0x7fe00000], [0, 0x7ff00000], [0, 0xfff00000], [0, 0x7ff80000], [0, 0xfff80000], [0x12345678, 0x7ff81234], [1, 0xfff80000],
  [1, 0x7ff00000], [0x12345678, 0xfff41234], [0, 0x7ff40000], [1, 0x43400000], [0xffffffff, 0x433fffff], [0xffc00000, 0x41dfffff],
  [0, 0x41e00000], [0, 0xc1e00000], [0x00200000, 0xc1e00000], [0xffffffff, 0x43dfffff], [0, 0x43e00000], [0, 0xc3e00000],
  [1, 0xc3e00000], [0, 0x3ff40000], [0, 0x40040000], [0, 0xc00c0000], [0, 0x3ca00000], [0, 0x3c900000],
  [0, 0x47efffff], [0xe0000000, 0x47efffff], [0, 0x36a00000], [0x10000000, 0x36a00000], [0, 0x380fffff], [0, 0x38100000],
  [0, 0x41f00000], [0, 0x3e700000], [0xe0000000, 0x380fffff], [0, 0x36900000],
  [0xfffffffe, 0x3fefffff], [0xfffffffe, 0xbfefffff], [1, 0x80100000],
].map(([lo, hi]) => [lo! | 0, hi! | 0]);

/** a random single with an interesting exponent (near 1, denormal/normal boundary, overflow, integers) */
export function randF32(r: () => number): number {
  const k = r() % 8;
  const sign = r() & 0x80000000;
  let mant = r() & 0x7fffff;
  if (r() % 3 === 0) mant &= ~((1 << (r() % 23)) - 1); // trailing zeros: exact and tie cases
  let e: number;
  switch (k) {
    case 0: e = 0; break;
    case 1: e = 1 + (r() % 3); break;
    case 2: e = 250 + (r() % 5); break;
    case 3: e = 127 + (r() % 32); break;
    case 4: e = 60 + (r() % 10); break;
    default: e = 110 + (r() % 36);
  }
  return sign | (e << 23) | mant;
}
export function randF64(r: () => number): [number, number] {
  const k = r() % 8;
  const sign = r() & 0x80000000;
  let hm = r() & 0xfffff, lo = r() | 0;
  if (r() % 3 === 0) { const z = r() % 52; if (z >= 32) { lo = 0; hm &= ~((1 << (z - 32)) - 1); } else lo &= ~((2 ** z - 1) | 0); }
  let e: number;
  switch (k) {
    case 0: e = 0; break;
    case 1: e = 1 + (r() % 3); break;
    case 2: e = 2042 + (r() % 5); break;
    case 3: e = 1023 + (r() % 64); break;
    case 4: e = 0x380 + (r() % 8); break; // single-precision denormal range (CVTSD2SS)
    case 5: e = 0x47e + (r() % 3); break; // single-precision overflow range
    default: e = 1000 + (r() % 48);
  }
  return [lo, sign | (e << 20) | hm];
}

/** MXCSR configurations: every RC with FTZ/DAZ off, and each RC with FTZ, DAZ, both */
export const MXCSR_ALL: number[] = [];
for (let rc = 0; rc < 4; rc++) for (const fd of [0, 0x8000, 0x40, 0x8040]) MXCSR_ALL.push(0x1f80 | (rc << 13) | fd);
export const MXCSR_FEW = [0x1f80, 0x3f80, 0x9fc0];

export class CaseWriter {
  private buf = new Uint8Array(REC * 1024);
  private dv = new DataView(this.buf.buffer);
  n = 0;
  add(x0: ArrayLike<number>, x1: ArrayLike<number>, mx: number, rax: [number, number] = [0, 0], x2: ArrayLike<number> = [0, 0, 0, 0]): void {
    if ((this.n + 1) * REC > this.buf.length) {
      const b = new Uint8Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
      this.dv = new DataView(b.buffer);
    }
    const o = this.n * REC;
    for (let i = 0; i < 4; i++) {
      this.dv.setInt32(o + 4 * i, x0[i] ?? 0, true);
      this.dv.setInt32(o + 16 + 4 * i, x1[i] ?? 0, true);
      this.dv.setInt32(o + 32 + 4 * i, x2[i] ?? 0, true);
    }
    this.dv.setInt32(o + 48, mx, true);
    this.dv.setInt32(o + 56, rax[0], true);
    this.dv.setInt32(o + 60, rax[1], true);
    this.n++;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.n * REC);
  }
}

/**
 * Run the case records of `forms` natively (runNative) and on the interpreter, the latter in batches that
 * fit the test guest's memory (RSI = input records, RDI = output records, R12 = scratch); returns the input
 * and both outputs, record for record.
 */
export function runBothWays<F extends { name: string; cases: Uint8Array }>(
  forms: F[], bodyOf: (fs: F[]) => string, setup: (g: Guest) => void,
): { input: Uint8Array; native: Buffer; interp: Uint8Array } {
  const total = forms.reduce((n, f) => n + f.cases.length, 0);
  const input = new Uint8Array(total);
  let o = 0;
  for (const f of forms) { input.set(f.cases, o); o += f.cases.length; }
  const native = runNative(bodyOf(forms), input);
  if (native.length !== total) throw new Error(`native harness returned ${native.length} bytes, expected ${total}`);
  const interp = new Uint8Array(total);
  for (let first = 0, off = 0; first < forms.length;) {
    let last = first, bytes = 0;
    while (last < forms.length && (last === first || bytes + forms[last]!.cases.length <= 6 << 20)) bytes += forms[last++]!.cases.length;
    const batch = forms.slice(first, last);
    const g = makeGuest(assemble(`${GUEST_PROLOGUE}\nmov rsi, ${IN}\nmov rdi, ${IN + (8 << 20)}\nmov r12, ${SCRATCH}\n${bodyOf(batch)}\nhlt`, 64, ORG), 'long', undefined, 100_000_000, ORG);
    setup(g);
    installGates(g.dv, IDT_BASE, ORG);
    g.mem.set(input.subarray(off, off + bytes), IN);
    const { exit } = g.runToHalt();
    if (exit.reason !== 'hlt') {
      throw new Error(`${batch[0]!.name}..: ${JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
    }
    interp.set(g.mem.subarray(IN + (8 << 20), IN + (8 << 20) + bytes), off);
    off += bytes;
    first = last;
  }
  return { input, native, interp };
}
