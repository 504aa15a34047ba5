// The host CPU as referee (DESIGN.md §5.3): the very same corpus image (layout.ts) executed natively in
// a small gcc-built Linux process that maps it at the guest addresses (the image's code uses absolute
// addresses; the legacy-mode image runs in compatibility mode, Linux's 32-bit user code segment 0x23),
// with a signal handler standing in for the guest IDT: SIGFPE → #DE, SIGILL → #UD,
// SIGSEGV → #GP/#PF, SIGBUS → #AC, SIGTRAP → #DB/#BP (faulting RIP from the signal context), resuming at
// the next case. It runs at CPL 3, so privileged cases (CLI, segment loads, IRET to CPL 0) fault there:
// use it only to referee user-mode semantics. Skipped without gcc.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CUR_ADDR, MEM_BYTES, NEXT_TABLE, OUT_BASE, OUT_ERROR, OUT_FRIP, OUT_SIZE, OUT_VECTOR, SCRATCH_BASE, SCRATCH_SIZE, type GuestImage } from './layout.ts';
import type { BackendRun } from './run.ts';

/** the first mapped address: below it only the GDT/IDT/page tables, which the native run does not need */
const MAP_BASE = CUR_ADDR;

let gccOk: boolean | undefined;
export function haveGcc(): boolean {
  gccOk ??= spawnSync('gcc', ['--version']).status === 0;
  return gccOk;
}

export const harness = (mode: 64 | 32): string => `
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <stdint.h>
static uint64_t count;
static void done(void) {
  fwrite((void *)${OUT_BASE}UL, ${OUT_SIZE}, count, stdout);
  fwrite((void *)${SCRATCH_BASE}UL, ${SCRATCH_SIZE}, count, stdout);
  fflush(stdout);
  _exit(0);
}
static void on_signal(int sig, siginfo_t *si, void *vctx) {
  ucontext_t *uc = vctx;
  uint64_t rip = uc->uc_mcontext.gregs[REG_RIP];
  uint64_t hlt = *(uint64_t *)(${NEXT_TABLE}UL + 8 * count);
  if (rip == hlt) done();
  uint32_t cur = *(uint32_t *)${CUR_ADDR}UL;
  int vec = sig == SIGFPE ? 0 : sig == SIGILL ? 6 : sig == SIGBUS ? 17 : sig == SIGTRAP ? 1 : (si->si_code == SEGV_MAPERR || si->si_code == SEGV_ACCERR) && si->si_addr ? 14 : 13;
  uint8_t *rec = (uint8_t *)(${OUT_BASE}UL + (uint64_t)cur * ${OUT_SIZE});
  *(uint64_t *)(rec + ${OUT_VECTOR}) = vec;
  *(uint64_t *)(rec + ${OUT_ERROR}) = 0;
  *(uint64_t *)(rec + ${OUT_FRIP}) = rip;
  uc->uc_mcontext.gregs[REG_RIP] = *(uint64_t *)(${NEXT_TABLE}UL + 8 * ((uint64_t)cur + 1));
  uc->uc_mcontext.gregs[REG_EFL] &= ~0x100UL;
}
int main(int argc, char **argv) {
  count = strtoull(argv[2], 0, 0);
  void *m = mmap((void *)${MAP_BASE}UL, ${MEM_BYTES - MAP_BASE}UL, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (m != (void *)${MAP_BASE}UL) { perror("mmap"); return 2; }
  FILE *f = fopen(argv[1], "rb");
  if (!f || fread(m, 1, ${MEM_BYTES - MAP_BASE}UL, f) != ${MEM_BYTES - MAP_BASE}UL) { perror("image"); return 2; }
  fclose(f);
  static char altstack[1 << 16];
  stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
  sigaltstack(&ss, 0);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  int sigs[] = { SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGTRAP };
  for (int i = 0; i < 5; i++) sigaction(sigs[i], &sa, 0);
  uint64_t entry = *(uint64_t *)${NEXT_TABLE}UL;
${mode === 64 ? `  ((void (*)(void))entry)();
  done();` : `  /* the legacy image is 32-bit code: far jump to Linux's 32-bit user code segment (compatibility mode) */
  struct __attribute__((packed)) { uint32_t off; uint16_t sel; } target = { (uint32_t)entry, 0x23 };
  __asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"(0x2b)); /* null DS/ES #GP in compatibility mode */
  __asm__ volatile("ljmpl *%0" : : "m"(target));
  done();`}
  return 0;
}
`;

/**
 * Run `image` natively; the result reads like a backend run (outcomes, registers, memory). Cases for
 * which `skip(i)` is true (instructions that would derail the host process, e.g. WRFSBASE changing
 * the thread pointer) have their instruction replaced by UD2 and are reported as unavailable.
 */
export function runNative(image: GuestImage, skip: (i: number) => boolean = () => false, mode: 64 | 32 = 64): BackendRun {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-insn-'));
  try {
    const mem = image.memory.slice(MAP_BASE);
    const failed = new Map<number, string>();
    for (let i = 0; i < image.count; i++) {
      if (!skip(i)) continue;
      const at = image.insnAddr[i]! - MAP_BASE;
      mem[at] = 0x0f;
      mem[at + 1] = 0x0b;
      failed.set(i, 'not run natively');
    }
    writeFileSync(join(dir, 'h.c'), harness(mode));
    writeFileSync(join(dir, 'image.bin'), mem);
    execFileSync('gcc', ['-O1', '-o', join(dir, 'h'), join(dir, 'h.c')], { stdio: 'pipe' });
    const out = execFileSync(join(dir, 'h'), [join(dir, 'image.bin'), String(image.count)], { maxBuffer: 1 << 30 });
    const outLen = image.count * OUT_SIZE;
    if (out.length !== outLen + image.count * SCRATCH_SIZE) throw new Error(`native run returned ${out.length} bytes`);
    return { backend: 'native', out: new Uint8Array(out.subarray(0, outLen)), scratch: new Uint8Array(out.subarray(outLen)), failed, exits: 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
