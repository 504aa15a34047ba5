/*
 * paging_tlb: TLB invalidation as the manual requires it (Intel SDM Vol. 3A §4.10.4.1 "Operations that
 * Invalidate TLBs and Paging-Structure Caches": INVLPG invalidates the page's TLB entries and all
 * paging-structure caches, MOV to CR3 all non-global entries, a change of CR4.PGE everything, and a #PF
 * the entries for the faulting address; §4.10.4.3 "Optional Invalidation": R/W 0→1 without INVLPG may
 * cause at most one spurious #PF; §4.8: the dirty flag is set on the first write even when the
 * translation was cached by a read). Where the manual lets a stale translation be used, the outcome is
 * reported as "paging.tlb.info.*" (PASS either way, and backends may differ).
 */
#include "paging_lib.h"

const char program_name[] = "paging_tlb";

#define PATTERN2 0x7766554433221100ull

static u64 leaf(u64 frame, u64 flags) { return frame | PTE_P | flags; }

/* Map PG_VA to `frame` with the leaf flags, uppers permissive (A preset), and flush it. */
static void map(u64 frame, u64 flags) {
  for (int L = 2; L <= 4; L++) {
    u64 next = L == 4 ? (u64)pg_pdpt : L == 3 ? (u64)pg_pd : (u64)pg_pt;
    *pg_slot(L) = next | PTE_P | PTE_RW | PTE_US | PTE_A;
  }
  *pg_slot(1) = leaf(frame, flags);
  invlpg(PG_VA);
}

static int uread(u64 *v) { return run_user(u_read, PG_VA + PG_OFF_READ, v); }
static int uwrite(void) { return run_user(u_write, PG_VA + PG_OFF_WRITE, 0); }

static void expect_pf(const char *name, int got, u32 ec, const char *rule) {
  int ok = got == PF_VECTOR && last_ex.error_code == ec && last_ex.cr2 == PG_VA + PG_OFF_READ + (ec & PFEC_W ? 8 : 0);
  char e[24], g[24];
  report(name, ok, "%s cr2=%#lx expect=%s got=%s", rule, got == PF_VECTOR ? last_ex.cr2 : 0, pg_vec(PF_VECTOR, ec, e, sizeof(e)),
         pg_vec(got, got == PF_VECTOR ? last_ex.error_code : 0, g, sizeof(g)));
}

/* Code in the two frames at PG_OFF_FETCH: frame 1 returns 0x1111, frame 2 returns 0x2222. */
static void put_code(u8 *f, u16 v) {
  static const u8 tmpl[] = {0xB8, 0, 0, 0, 0, 0xC3}; /* mov $imm32, %eax; ret */
  for (unsigned i = 0; i < sizeof(tmpl); i++) f[PG_OFF_FETCH + i] = tmpl[i];
  f[PG_OFF_FETCH + 1] = (u8)v;
  f[PG_OFF_FETCH + 2] = (u8)(v >> 8);
}
static u64 call_at(u64 a) {
  u64 r;
  __asm__ volatile("call *%1" : "=a"(r) : "r"(a) : "memory");
  return r;
}

void run_tests(void) {
  pg_init();
  pg_fast_pf(0); /* run_user's faults and the checks below use the library's handler */
  u64 v = 0;
  u64 f1 = (u64)pg_frame, f2 = (u64)pg_frame2;
  *(volatile u64 *)(pg_frame + PG_OFF_READ) = PG_PATTERN;
  *(volatile u64 *)(pg_frame2 + PG_OFF_READ) = PATTERN2;

  /* R/W 0→1 with INVLPG: the write succeeds */
  map(f1, PTE_US | PTE_A);
  uread(&v);
  *pg_slot(1) = leaf(f1, PTE_US | PTE_RW | PTE_A);
  invlpg(PG_VA);
  expect_vector("paging.tlb.invlpg.rw-0-to-1", NO_EXCEPTION, uwrite(), "R/W 0->1 + INVLPG, CPL3 write");

  /* R/W 1→0 with INVLPG: the write faults (P|W|U) */
  map(f1, PTE_US | PTE_RW | PTE_A | PTE_D);
  uwrite();
  *pg_slot(1) = leaf(f1, PTE_US | PTE_A);
  invlpg(PG_VA);
  expect_pf("paging.tlb.invlpg.rw-1-to-0", uwrite(), PFEC_P | PFEC_W | PFEC_U, "R/W 1->0 + INVLPG, CPL3 write");

  /* P 1→0 with INVLPG: the read faults (P=0) */
  map(f1, PTE_US | PTE_A);
  uread(&v);
  *pg_slot(1) = 0;
  invlpg(PG_VA);
  expect_pf("paging.tlb.invlpg.p-1-to-0", uread(&v), PFEC_U, "P 1->0 + INVLPG, CPL3 read");

  /* U/S 1→0 in the PDE with INVLPG (INVLPG also flushes the paging-structure caches) */
  map(f1, PTE_US | PTE_A);
  uread(&v);
  *pg_slot(2) = (u64)pg_pt | PTE_P | PTE_RW | PTE_A;
  invlpg(PG_VA);
  expect_pf("paging.tlb.invlpg.pde-us-1-to-0", uread(&v), PFEC_P | PFEC_U, "PDE U/S 1->0 + INVLPG, CPL3 read");

  /* a new frame with INVLPG: the read sees it */
  map(f1, PTE_US | PTE_A);
  uread(&v);
  *pg_slot(1) = leaf(f2, PTE_US | PTE_A);
  invlpg(PG_VA);
  int r = uread(&v);
  report("paging.tlb.invlpg.remap", r == NO_EXCEPTION && v == PATTERN2, "frame 1->2 + INVLPG read=%#lx expect=%#llx got=%s",
         v, PATTERN2, vector_name(r));

  /* a new frame with MOV CR3 (non-global page) */
  map(f1, PTE_US | PTE_A);
  uread(&v);
  *pg_slot(1) = leaf(f2, PTE_US | PTE_A);
  __asm__ volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
  r = uread(&v);
  report("paging.tlb.mov-cr3.remap", r == NO_EXCEPTION && v == PATTERN2, "frame 1->2 + MOV CR3 read=%#lx expect=%#llx got=%s",
         v, PATTERN2, vector_name(r));

  /* a new frame without invalidation: the old or the new translation (info) */
  map(f1, PTE_US | PTE_A);
  uread(&v);
  *pg_slot(1) = leaf(f2, PTE_US | PTE_A);
  r = uread(&v);
  report("paging.tlb.info.remap-no-invlpg", r == NO_EXCEPTION && (v == PATTERN2 || v == PG_PATTERN), "read %s (either is allowed)",
         v == PATTERN2 ? "new-frame" : v == PG_PATTERN ? "stale-frame" : "garbage");
  invlpg(PG_VA);

  /* a #PF invalidates the faulting address's entries: R/W 0→1 after a write fault, no INVLPG */
  map(f1, PTE_US | PTE_A | PTE_D);
  r = uwrite();
  *pg_slot(1) = leaf(f1, PTE_US | PTE_RW | PTE_A | PTE_D);
  int r2 = uwrite();
  report("paging.tlb.fault-invalidates", r == PF_VECTOR && r2 == NO_EXCEPTION,
         "write to R/W=0 then R/W 0->1 without INVLPG: first=%s expect=ok got=%s", vector_name(r), vector_name(r2));

  /* R/W 0→1 without INVLPG after a cached read: at most one spurious #PF */
  map(f1, PTE_US | PTE_A | PTE_D);
  uread(&v);
  *pg_slot(1) = leaf(f1, PTE_US | PTE_RW | PTE_A | PTE_D);
  r = uwrite();
  r2 = r == NO_EXCEPTION ? NO_EXCEPTION : uwrite();
  report("paging.tlb.spurious-at-most-once", r2 == NO_EXCEPTION, "R/W 0->1 without INVLPG expect=ok got=%s", vector_name(r2));
  report("paging.tlb.info.spurious", r == NO_EXCEPTION || r == PF_VECTOR, "first write after R/W 0->1 without INVLPG: %s",
         r == NO_EXCEPTION ? "no-spurious-fault" : "spurious-#PF");

  /* D is set by the first write even when a read cached the translation with D=0 */
  map(f1, PTE_US | PTE_RW | PTE_A);
  uread(&v);
  r = uwrite();
  u64 pte = *pg_slot(1);
  report("paging.tlb.dirty-after-cached-read", r == NO_EXCEPTION && (pte & PTE_D), "pte=%#lx expect=D=1 got=D=%d",
         pte & 0xFFF, (int)((pte >> 6) & 1));

  /* code: a new frame with INVLPG is fetched from (the interpreter's fetch window must follow) */
  put_code(pg_frame, 0x1111);
  put_code(pg_frame2, 0x2222);
  map(f1, PTE_A);
  u64 c1 = call_at(PG_VA + PG_OFF_FETCH);
  *pg_slot(1) = leaf(f2, PTE_A);
  invlpg(PG_VA);
  u64 c2 = call_at(PG_VA + PG_OFF_FETCH);
  report("paging.tlb.invlpg.code-remap", c1 == 0x1111 && c2 == 0x2222, "frame 1->2 + INVLPG: ran %#lx then %#lx expect=0x2222 got=%#lx",
         c1, c2, c2);
  /* code written through another linear address (the identity map), then a CALL: the new code runs */
  put_code(pg_frame2, 0x3333);
  u64 c3 = call_at(PG_VA + PG_OFF_FETCH);
  report("paging.tlb.code-modified-via-alias", c3 == 0x3333, "expect=0x3333 got=%#lx", c3);

  /* global pages: MOV CR3 may keep them (info); INVLPG and toggling CR4.PGE must not */
  u64 cr4 = read_cr4();
  if (!cpuid_has(FEAT(1, 0, EDX, 13))) {
    report_skip("paging.tlb.global", "CPUID.1:EDX[13] PGE=0");
  } else if (wrcr4_safe(cr4 | X86_CR4_PGE) != NO_EXCEPTION) {
    report("paging.tlb.global", 0, "CR4.PGE refused expect=ok got=#GP");
  } else {
    map(f1, PTE_US | PTE_A | PTE_G);
    uread(&v);
    *pg_slot(1) = leaf(f2, PTE_US | PTE_A | PTE_G);
    __asm__ volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
    r = uread(&v);
    report("paging.tlb.info.global-mov-cr3", r == NO_EXCEPTION && (v == PATTERN2 || v == PG_PATTERN), "read %s (either is allowed)",
           v == PATTERN2 ? "new-frame" : v == PG_PATTERN ? "stale-frame" : "garbage");
    invlpg(PG_VA);
    r = uread(&v);
    report("paging.tlb.global.invlpg", r == NO_EXCEPTION && v == PATTERN2, "G=1 frame 1->2 + INVLPG read=%#lx expect=%#llx got=%s", v,
           PATTERN2, vector_name(r));
    *pg_slot(1) = leaf(f1, PTE_US | PTE_A | PTE_G);
    wrcr4_safe(cr4 & ~X86_CR4_PGE);
    wrcr4_safe(cr4 | X86_CR4_PGE);
    r = uread(&v);
    report("paging.tlb.global.pge-toggle", r == NO_EXCEPTION && v == PG_PATTERN,
           "G=1 frame 2->1 + CR4.PGE 1->0->1 read=%#lx expect=%#llx got=%s", v, PG_PATTERN, vector_name(r));
    wrcr4_safe(cr4);
  }
  *pg_slot(1) = 0;
  invlpg(PG_VA);
}
