/*
 * paging_perm: the access-rights matrix of 4-level paging (Intel SDM Vol. 3A §4.6 access rights with
 * CR0.WP, CR4.SMEP/SMAP and RFLAGS.AC, §4.6.2 protection keys, §4.7 the #PF error code and CR2, §4.8
 * accessed/dirty flags). Each group walks combinations of entry bits at the leaf and at one upper level
 * (rotated over PDE, PDPTE, PML4E) against a CPU state and an access kind at CPL0 and CPL3, and checks
 * every case against the reference predicate in paging_lib.h. One report line per group.
 */
#include "paging_lib.h"

const char program_name[] = "paging_perm";

static const enum pg_kind RW_KINDS[] = {PG_READ, PG_WRITE};
static const enum pg_kind ALL_KINDS[] = {PG_READ, PG_WRITE, PG_FETCH};

/* Loads the case's CPU state; a refused write is a mismatch of the group. */
static int env_ok(struct pg_group *g, const struct pg_env *e) {
  int v = pg_apply_env(e);
  if (v == NO_EXCEPTION) return 1;
  if (!g->mismatches++)
    snprintf(g->first, sizeof(g->first), "first(env): wp=%d smep=%d smap=%d nxe=%d pke=%d pkru=%#x refused with %s",
             e->wp, e->smep, e->smap, e->nxe, e->pke, e->pkru, vector_name(v));
  return 0;
}

/* Upper-level entries fully permissive, except level `lvl` (2..4) which gets P | `bits`. Their A bits
 * are preset (the accessed-dirty group covers A on upper levels) so they rarely need rewriting. */
static void uppers(struct pg_case *c, int lvl, u64 bits) {
  for (int L = 2; L <= 4; L++) c->e[L - 1] = PTE_P | PTE_RW | PTE_US | PTE_A;
  c->e[lvl - 1] = PTE_P | PTE_A | bits;
}

/* R/W and U/S at the leaf and one upper level × CR0.WP × RFLAGS.AC × CPL × read/write. */
static void group_rw_us(const char *name, int smap) {
  struct pg_group g;
  pg_group_begin(&g, name);
  for (int cpl = 0; cpl <= 3; cpl += 3)
    for (int wp = 0; wp < 2; wp++)
      for (int ac = 0; ac < 2; ac++) {
        if (cpl == 3 && ac && !smap) continue;
        struct pg_case c = {{(u8)cpl, (u8)wp, 0, (u8)smap, (u8)ac, 0, 0, 0}, PG_READ, {0, 0, 0, 0}};
        if (!env_ok(&g, &c.env)) continue;
        for (unsigned k = 0; k < 2; k++)
          for (u64 leaf = 0; leaf < 4; leaf++)
            for (int lvl = 2; lvl <= 4; lvl++)
              for (u64 up = 0; up < 4; up++) {
                c.kind = RW_KINDS[k];
                uppers(&c, lvl, up << 1);
                c.e[0] = PTE_P | (leaf << 1);
                pg_check(&g, &c);
              }
      }
  pg_group_end(&g);
}

/* U/S, XD (and R/W, which fetches ignore) at the leaf and one upper level × CPL, for one NXE/SMEP. */
static void group_fetch(const char *name, int nxe, int smep) {
  struct pg_group g;
  pg_group_begin(&g, name);
  for (int cpl = 0; cpl <= 3; cpl += 3) {
    struct pg_case c = {{(u8)cpl, 1, (u8)smep, 0, 0, (u8)nxe, 0, 0}, PG_FETCH, {0, 0, 0, 0}};
    if (!env_ok(&g, &c.env)) continue;
    for (u64 leaf = 0; leaf < 8; leaf++)
      for (int lvl = 2; lvl <= 4; lvl++)
        for (u64 up = 0; up < 4; up++) {
          uppers(&c, lvl, PTE_RW | ((up & 1) ? PTE_US : 0) | ((up & 2) ? PTE_XD : 0));
          c.e[0] = PTE_P | ((leaf & 1) ? PTE_US : 0) | ((leaf & 2) ? PTE_XD : 0) | ((leaf & 4) ? PTE_RW : 0);
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
    if (!env_ok(&g, &c.env)) continue;
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

/* A not-present entry at each level (with and without other bits set) × access kind × CPL. */
static void group_present(const char *name, int nxe, int smep) {
  struct pg_group g;
  pg_group_begin(&g, name);
  for (int cpl = 0; cpl <= 3; cpl += 3) {
    struct pg_case c = {{(u8)cpl, 1, (u8)smep, 0, 0, (u8)nxe, 0, 0}, PG_READ, {0, 0, 0, 0}};
    if (!env_ok(&g, &c.env)) continue;
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
      if (!env_ok(&g, &c.env)) continue;
      for (u64 leaf = 0; leaf < 4; leaf++)
        for (u64 up = 0; up < 2; up++) {
          uppers(&c, 3, PTE_RW | (up ? PTE_US : 0));
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
            if (!env_ok(&g, &c.env)) continue;
            for (unsigned k = 0; k < 3; k++)
              for (u64 leaf = 0; leaf < 4; leaf++) {
                c.kind = ALL_KINDS[k];
                uppers(&c, 2, PTE_RW | PTE_US);
                c.e[0] = PTE_P | (leaf << 1) | PTE_PK(key);
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
  group_fetch("paging.fetch", 0, 0);
  if (pg_feat.nx) group_fetch("paging.fetch.nxe", 1, 0);
  else report_skip("paging.fetch.nxe", "CPUID.80000001H:EDX[20] NX=0");
  if (pg_feat.smep) group_fetch("paging.fetch.smep", 0, 1);
  else report_skip("paging.fetch.smep", "CPUID.7.0:EBX[7] SMEP=0");
  if (pg_feat.smep && pg_feat.nx) group_fetch("paging.fetch.smep-nxe", 1, 1);
  else report_skip("paging.fetch.smep-nxe", "SMEP=%d NX=%d", pg_feat.smep, pg_feat.nx);
  group_ad();
  group_present("paging.not-present", 0, 0);
  if (pg_feat.nx) group_present("paging.not-present.nxe", 1, 0);
  else report_skip("paging.not-present.nxe", "CPUID.80000001H:EDX[20] NX=0");
  if (pg_feat.smep) group_present("paging.not-present.smep", 0, 1);
  else report_skip("paging.not-present.smep", "CPUID.7.0:EBX[7] SMEP=0");
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
