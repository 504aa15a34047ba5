/*
 * paging_sys: implicit supervisor-mode accesses and protection keys (Intel SDM Vol. 3A §4.6: accesses
 * to system structures — here an LDT descriptor read by a segment load, and the write of its accessed
 * flag — are supervisor-mode accesses whatever the CPL, and SMAP forbids them on user-mode addresses
 * regardless of RFLAGS.AC; §4.6.2 protection keys: PKRU AD/WD of the leaf's key for data accesses to
 * user-mode addresses, WD for supervisor writes only with CR0.WP=1; §4.7 the PK error-code flag). Every
 * case is checked against the reference predicate in paging_lib.h.
 */
#include "paging_lib.h"

const char program_name[] = "paging_sys";

static const enum pg_kind ALL_KINDS[] = {PG_READ, PG_WRITE, PG_FETCH};

/* Implicit supervisor accesses to an LDT descriptor on the test page (a read; or a read and the write
 * of its accessed flag) × U/S, R/W × CR0.WP × AC × CPL. */
static void group_implicit(const char *name, int smap, enum pg_kind kind) {
  struct pg_group g;
  pg_group_begin(&g, name);
  for (int cpl = 0; cpl <= 3; cpl += 3)
    for (int w = 0; w < 4; w++) {
      int ac = w & 1, wp = w >> 1;
      if (kind == PG_IMPLICIT && !wp) continue; /* WP only matters to the write */
      struct pg_case c = {{(u8)cpl, (u8)wp, 0, (u8)smap, (u8)ac, 0, 0, 0}, kind, {0, 0, 0, 0}};
      if (!pg_env_ok(&g, &c.env)) continue;
      for (u64 leaf = 0; leaf < 4; leaf++)
        for (u64 up = 0; up < 2; up++) {
          pg_uppers(&c, 3, PTE_RW | (up ? PTE_US : 0));
          c.e[0] = PTE_P | (leaf << 1);
          pg_check(&g, &c);
        }
    }
  pg_group_end(&g);
}

/* Protection keys: the leaf's key (3 or 10) with AD/WD in PKRU × PKE × WP × U/S, R/W × CPL × kind. */
static void group_pk(void) {
  struct pg_group g;
  pg_group_begin(&g, "paging.pk");
  static const u32 keys[] = {3, 10};
  for (unsigned ki = 0; ki < 2; ki++)
    for (u32 adwd = 0; adwd < 4; adwd++)
      for (int pke = 0; pke < 2; pke++)
        for (int wp = 0; wp < 2; wp++)
          for (int cpl = 0; cpl <= 3; cpl += 3) {
            u32 key = keys[ki];
            struct pg_case c = {{(u8)cpl, (u8)wp, 0, 0, 0, 0, (u8)pke, adwd << (2 * key)}, PG_READ, {0, 0, 0, 0}};
            if (!pg_env_ok(&g, &c.env)) continue;
            for (unsigned k = 0; k < 3; k++)
              for (u64 leaf = 0; leaf < 4; leaf++) {
                c.kind = ALL_KINDS[k];
                pg_uppers(&c, 2, PTE_RW | PTE_US);
                c.e[0] = PTE_P | (leaf << 1) | PTE_PK(key);
                pg_check(&g, &c);
              }
          }
  pg_group_end(&g);
}

void run_tests(void) {
  pg_init();
  if (try_check("paging.implicit")) {
    pg_setup_ldt();
    group_implicit("paging.implicit", 0, PG_IMPLICIT);
    if (!pg_feat.smap) report_skip("paging.implicit.smap", "CPUID.7.0:EBX[20] SMAP=0");
    else if (try_check("paging.implicit.smap")) group_implicit("paging.implicit.smap", 1, PG_IMPLICIT);
    if (try_check("paging.implicit-write")) group_implicit("paging.implicit-write", 0, PG_IMPLICIT_W);
    if (!pg_feat.smap) report_skip("paging.implicit-write.smap", "CPUID.7.0:EBX[20] SMAP=0");
    else if (try_check("paging.implicit-write.smap")) group_implicit("paging.implicit-write.smap", 1, PG_IMPLICIT_W);
  } else {
    report_skip("paging.implicit.smap", "paging.implicit unavailable");
    report_skip("paging.implicit-write", "paging.implicit unavailable");
    report_skip("paging.implicit-write.smap", "paging.implicit unavailable");
  }
  if (!pg_feat.pku) report_skip("paging.pk", "CPUID.7.0:ECX[3] PKU=0");
  else if (try_check("paging.pk")) group_pk();
}
