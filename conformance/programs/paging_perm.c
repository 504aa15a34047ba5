/*
 * paging_perm: the data-access rights matrix of 4-level paging (Intel SDM Vol. 3A §4.6 access rights:
 * U/S and R/W combined over all levels, CR0.WP, CR4.SMAP with RFLAGS.AC; §4.7 the #PF error code and
 * CR2; §4.8 accessed/dirty flags). Each group walks combinations of entry bits at the leaf and at one
 * upper level (every upper level in turn) against a CPU state and a read or write at CPL0 and CPL3, and
 * checks every case against the reference predicate in paging_lib.h. One report line per group.
 */
#include "paging_lib.h"

const char program_name[] = "paging_perm";

static const enum pg_kind RW_KINDS[] = {PG_READ, PG_WRITE};
static const enum pg_kind ALL_KINDS[] = {PG_READ, PG_WRITE, PG_FETCH};

/* R/W and U/S at the leaf and one upper level × CR0.WP × RFLAGS.AC × CPL × read/write. */
static void group_rw_us(const char *name, int smap) {
  struct pg_group g;
  pg_group_begin(&g, name);
  for (int cpl = 0; cpl <= 3; cpl += 3)
    for (int wp = 0; wp < 2; wp++)
      for (int ac = 0; ac < 2; ac++) {
        if (cpl == 3 && ac && !smap) continue;
        struct pg_case c = {{(u8)cpl, (u8)wp, 0, (u8)smap, (u8)ac, 0, 0, 0}, PG_READ, {0, 0, 0, 0}};
        if (!pg_env_ok(&g, &c.env)) continue;
        for (unsigned k = 0; k < 2; k++)
          for (u64 leaf = 0; leaf < 4; leaf++)
            for (int lvl = 2; lvl <= 4; lvl++)
              for (u64 up = 0; up < 4; up++) {
                c.kind = RW_KINDS[k];
                pg_uppers(&c, lvl, up << 1);
                c.e[0] = PTE_P | (leaf << 1);
                pg_check(&g, &c);
              }
      }
  pg_group_end(&g);
}

/* Accessed and dirty flags on successful accesses: A/D preset or clear at each level. */
static void group_ad(void) {
  struct pg_group g;
  pg_group_begin(&g, "paging.accessed-dirty");
  for (int cpl = 0; cpl <= 3; cpl += 3) {
    struct pg_case c = {{(u8)cpl, 1, 0, 0, 0, 0, 0, 0}, PG_READ, {0, 0, 0, 0}};
    if (!pg_env_ok(&g, &c.env)) continue;
    for (unsigned k = 0; k < 3; k++)
      for (u64 leaf = 0; leaf < 4; leaf++)
        for (u64 up = 0; up < 8; up++) {
          c.kind = ALL_KINDS[k];
          for (int L = 2; L <= 4; L++) c.e[L - 1] = PTE_P | PTE_RW | PTE_US | ((up >> (L - 2)) & 1 ? PTE_A : 0);
          c.e[0] = PTE_P | PTE_RW | PTE_US | ((leaf & 1) ? PTE_A : 0) | ((leaf & 2) ? PTE_D : 0);
          pg_check(&g, &c);
        }
  }
  pg_group_end(&g);
}

void run_tests(void) {
  pg_init();
  group_rw_us("paging.rw-us", 0);
  if (pg_feat.smap) group_rw_us("paging.rw-us.smap", 1);
  else report_skip("paging.rw-us.smap", "CPUID.7.0:EBX[20] SMAP=0");
  group_ad();
}
