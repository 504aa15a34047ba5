/*
 * paging_exec: instruction fetches and not-present entries in 4-level paging (Intel SDM Vol. 3A §4.6:
 * execute-disable with EFER.NXE, U/S for user fetches, SMEP for supervisor fetches from user-mode
 * addresses, R/W ignored by fetches; §4.5 a not-present entry ends the walk and its other bits are
 * ignored; §4.7 the error code, whose I/D flag is set for fetches only when SMEP=1 or NXE=1, and CR2 =
 * the fetched byte's address). Every case is checked against the reference predicate in paging_lib.h.
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
}
