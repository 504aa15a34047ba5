/*
 * paging_exec: instruction fetches and not-present entries in 4-level paging (Intel SDM Vol. 3A §4.6:
 * execute-disable with EFER.NXE, U/S for user fetches, SMEP for supervisor fetches from user-mode
 * addresses, R/W ignored by fetches; §4.5 a not-present entry ends the walk and its other bits are
 * ignored; §4.7 the error code, whose I/D flag is set for fetches only when SMEP=1 or NXE=1, and CR2 =
 * the fetched byte's address; for an access crossing into a faulting page, that page's first byte).
 * Every case is checked against the reference predicate in paging_lib.h.
 */
#include "paging_lib.h"

const char program_name[] = "paging_exec";

static const enum pg_kind ALL_KINDS[] = {PG_READ, PG_WRITE, PG_FETCH};

/* U/S, XD (and R/W, which fetches ignore) at the leaf and one upper level × CPL, for one NXE/SMEP. */
static void group_fetch(const char *name, int nxe, int smep) {
  struct pg_group g;
  pg_group_begin(&g, name);
  for (int cpl = 0; cpl <= 3; cpl += 3) {
    struct pg_case c = {{(u8)cpl, 1, (u8)smep, 0, 0, (u8)nxe, 0, 0}, PG_FETCH, {0, 0, 0, 0}};
    if (!pg_env_ok(&g, &c.env)) continue;
    for (u64 leaf = 0; leaf < 8; leaf++)
      for (int lvl = 2; lvl <= 4; lvl++)
        for (u64 up = 0; up < 4; up++) {
          pg_uppers(&c, lvl, PTE_RW | ((up & 1) ? PTE_US : 0) | ((up & 2) ? PTE_XD : 0));
          c.e[0] = PTE_P | ((leaf & 1) ? PTE_US : 0) | ((leaf & 2) ? PTE_XD : 0) | ((leaf & 4) ? PTE_RW : 0);
          pg_check(&g, &c);
        }
  }
  pg_group_end(&g);
}

/* A not-present entry at each level (with and without other bits set) × access kind × CPL. */
static void group_present(const char *name, int nxe, int smep) {
  struct pg_group g;
  pg_group_begin(&g, name);
  for (int cpl = 0; cpl <= 3; cpl += 3) {
    struct pg_case c = {{(u8)cpl, 1, (u8)smep, 0, 0, (u8)nxe, 0, 0}, PG_READ, {0, 0, 0, 0}};
    if (!pg_env_ok(&g, &c.env)) continue;
    for (unsigned k = 0; k < 3; k++)
      for (int lvl = 1; lvl <= 4; lvl++)
        for (int junk = 0; junk < 2; junk++) {
          c.kind = ALL_KINDS[k];
          for (int L = 1; L <= 4; L++) c.e[L - 1] = PTE_P | PTE_RW | PTE_US | (L > 1 ? PTE_A : 0);
          /* bits of a not-present entry are ignored (§4.5), reserved ones included */
          c.e[lvl - 1] = junk ? (BIT(51) | PTE_XD | PTE_PS | PTE_RW | PTE_US | PTE_A) : 0;
          pg_check(&g, &c);
        }
  }
  pg_group_end(&g);
}

/*
 * Accesses that cross from a permissive page into a second page (not present, supervisor-only,
 * read-only or, with NXE, execute-disable): the fault belongs to the second page, CR2 is that page's
 * first byte (§4.7), and a faulting write stores nothing on the first page (§6.5: a fault restores the
 * state before the instruction; reported on its own line). 8-byte reads and writes at
 * PG_VA+0xFFC; fetches of "mov $imm32, %eax; ret" starting at PG_VA+0xFFE.
 */
static u64 k_call_eax(u64 a, int *vec) {
  u64 r = 0;
  pg_pf_vector = NO_EXCEPTION;
  pg_fixup = (u64)paging_ret_insn;
  __asm__ volatile("call *%1\n movq $0, pg_fixup(%%rip)" : "+a"(r) : "r"(a) : "memory");
  *vec = pg_pf_vector;
  return r;
}

static void group_page_cross(int nxe) {
  struct pg_group g;
  pg_group_begin(&g, nxe ? "paging.page-cross.nxe" : "paging.page-cross");
  static const u64 second[] = {0, PTE_P | PTE_RW | PTE_A | PTE_D, PTE_P | PTE_US | PTE_A | PTE_D,
                               PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D, PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_XD};
  const u64 base = PG_VA + 0x1000;
  u32 pw_cases = 0, pw_written = 0; /* faulting writes, and those that stored on the first page */
  for (int cpl = 0; cpl <= 3; cpl += 3) {
    struct pg_case c = {{(u8)cpl, 1, 0, 0, 0, (u8)nxe, 0, 0}, PG_READ, {0, 0, 0, 0}};
    if (!pg_env_ok(&g, &c.env)) continue;
    for (unsigned k = 0; k < 3; k++)
      for (unsigned s = 0; s < (nxe ? 5u : 4u); s++) {
        c.kind = ALL_KINDS[k];
        pg_uppers(&c, 2, PTE_RW | PTE_US);
        c.e[0] = second[s];
        struct pg_expect x = pg_expect_case(&c); /* the second page decides */
        for (int L = 2; L <= 4; L++) *pg_slot(L) = c.e[L - 1] | (L == 4 ? (u64)pg_pdpt : L == 3 ? (u64)pg_pd : (u64)pg_pt);
        pg_pt[0] = (u64)pg_frame | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D;
        pg_pt[1] = c.e[0] ? (c.e[0] | (u64)pg_frame2) : 0;
        volatile u8 *f1 = (volatile u8 *)pg_frame, *f2 = (volatile u8 *)pg_frame2;
        for (int i = 0xFFC; i < 0x1000; i++) f1[i] = 0xEE;
        for (int i = 0; i < 4; i++) f2[i] = 0xEE;
        f1[0xFFE] = 0xB8; /* mov $0xEEEEEEEE, %eax; ret */
        f2[3] = 0xC3;
        invlpg(PG_VA);
        invlpg(base);
        u64 a = c.kind == PG_FETCH ? PG_VA + 0xFFE : PG_VA + 0xFFC, v = 0;
        int vec;
        if (cpl == 0) {
          if (c.kind == PG_READ) vec = k_read(a, &v);
          else if (c.kind == PG_WRITE) vec = k_write(a, PG_WVALUE);
          else v = k_call_eax(a, &vec);
        } else {
          static u64 (*const fns[])(u64) = {u_read, u_write, u_fetch};
          pg_set_ac(1);
          vec = run_user(fns[k], a, &v);
          pg_set_ac(0);
        }
        u64 err = vec == PF_VECTOR ? (cpl == 0 ? pg_pf_error : last_ex.error_code) : 0;
        u64 cr2 = vec == PF_VECTOR ? (cpl == 0 ? pg_pf_cr2 : last_ex.cr2) : 0;
        int first_untouched = f1[0xFFC] == 0xEE && f1[0xFFD] == 0xEE && f1[0xFFF] == 0xEE;
        const char *why = 0;
        if (vec != (x.fault ? PF_VECTOR : NO_EXCEPTION)) why = "vector";
        else if (x.fault && err != x.error) why = "error-code";
        else if (x.fault && cr2 != base) why = "cr2";
        else if (!x.fault && c.kind == PG_READ && v != (*(volatile u32 *)(f1 + 0xFFC) | (u64) * (volatile u32 *)f2 << 32))
          why = "value";
        else if (!x.fault && c.kind == PG_FETCH && cpl == 0 && v != 0xEEEEEEEEull) why = "fetched-value";
        if (x.fault && c.kind == PG_WRITE) {
          pw_cases++;
          pw_written += !first_untouched;
        }
        g.cases++;
        g.faults += x.fault ? 1 : 0;
        g.hash = pg_fnv(g.hash, (u64)(u32)vec << 32 | err);
        g.chash = pg_fnv(g.chash, cr2 - base);
        if (!why) continue;
        if (!g.mismatches++) {
          char e[24], got[24];
          snprintf(g.first, sizeof(g.first), "first(%s): %s cpl=%d nxe=%d second-pte=%#lx want=%s saw=%s cr2=%#lx(want %#lx) value=%#lx",
                   why, pg_kind_name[c.kind], cpl, nxe, second[s], pg_vec(x.fault ? PF_VECTOR : NO_EXCEPTION, x.error, e, sizeof(e)),
                   pg_vec(vec, err, got, sizeof(got)), cr2, base, v);
        }
      }
  }
  pg_pt[1] = 0;
  invlpg(PG_VA + 0x1000);
  pg_group_end(&g);
  /* SDM Vol. 3A §6.5: a fault restores the state before the instruction: nothing is stored */
  report(nxe ? "paging.page-cross.nxe.no-partial-write" : "paging.page-cross.no-partial-write", pw_cases > 0 && !pw_written,
         "faulting-writes=%u first-page-written=%u expect=first-page-untouched got=%s", pw_cases, pw_written,
         pw_written ? "first-page-written" : "first-page-untouched");
}

void run_tests(void) {
  pg_init();
  group_fetch("paging.fetch", 0, 0);
  if (pg_feat.nx) group_fetch("paging.fetch.nxe", 1, 0);
  else report_skip("paging.fetch.nxe", "CPUID.80000001H:EDX[20] NX=0");
  if (pg_feat.smep) group_fetch("paging.fetch.smep", 0, 1);
  else report_skip("paging.fetch.smep", "CPUID.7.0:EBX[7] SMEP=0");
  if (pg_feat.smep && pg_feat.nx) group_fetch("paging.fetch.smep-nxe", 1, 1);
  else report_skip("paging.fetch.smep-nxe", "SMEP=%d NX=%d", pg_feat.smep, pg_feat.nx);
  group_present("paging.not-present", 0, 0);
  if (pg_feat.nx) group_present("paging.not-present.nxe", 1, 0);
  else report_skip("paging.not-present.nxe", "CPUID.80000001H:EDX[20] NX=0");
  if (pg_feat.smep) group_present("paging.not-present.smep", 0, 1);
  else report_skip("paging.not-present.smep", "CPUID.7.0:EBX[7] SMEP=0");
  group_page_cross(0);
  if (pg_feat.nx) group_page_cross(1);
  else report_skip("paging.page-cross.nxe", "CPUID.80000001H:EDX[20] NX=0");
}
