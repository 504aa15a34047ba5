/*
 * paging_rsvd: reserved-bit page faults and large pages in 4-level paging (Intel SDM Vol. 3A §4.5
 * Tables 4-14..4-20: bits MAXPHYADDR..51 reserved in every entry, bit 63 reserved with EFER.NXE=0, PS
 * reserved in a PML4E, PS in a PDPTE only with CPUID.80000001H:EDX[26] (1-GByte pages), frame bits 20:13
 * of a 2-MByte PDE and 29:13 of a 1-GByte PDPTE reserved; §4.7: RSVD=1 and P=1 in the error code, and a
 * reserved bit anywhere in the walk wins over access rights). MAXPHYADDR is the guest's own
 * CPUID.80000008H:EAX[7:0]. Cases are checked against the reference predicate in paging_lib.h.
 */
#include "paging_lib.h"

const char program_name[] = "paging_rsvd";

/* The six access forms of every reserved-bit case: read, write, fetch at CPL0 and CPL3. */
static void six(struct pg_group *g, struct pg_case *c) {
  static const enum pg_kind kinds[] = {PG_READ, PG_WRITE, PG_FETCH};
  for (int cpl = 0; cpl <= 3; cpl += 3) {
    c->env.cpl = (u8)cpl;
    for (int k = 0; k < 3; k++) {
      c->kind = kinds[k];
      pg_check(g, c);
    }
  }
}

static void permissive(struct pg_case *c) {
  for (int L = 1; L <= 4; L++) c->e[L - 1] = PTE_P | PTE_RW | PTE_US | (L > 1 ? PTE_A : 0);
}

static int env_ok(struct pg_group *g, const struct pg_env *e) {
  int v = pg_apply_env(e);
  if (v == NO_EXCEPTION) return 1;
  if (!g->mismatches++) snprintf(g->first, sizeof(g->first), "first(env): nxe=%d refused with %s", e->nxe, vector_name(v));
  return 0;
}

/* Bits 51 and MAXPHYADDR at each level, alone and with an access-rights violation elsewhere. */
static void group_maxphy(void) {
  struct pg_group g;
  if (pg_feat.maxphy >= 52) {
    report_skip("paging.rsvd.maxphyaddr", "MAXPHYADDR=%d: no reserved address bits", pg_feat.maxphy);
    return;
  }
  pg_group_begin(&g, "paging.rsvd.maxphyaddr");
  struct pg_case c = {{0, 1, 0, 0, 0, 0, 0, 0}, PG_READ, {0, 0, 0, 0}};
  if (env_ok(&g, &c.env)) {
    const int bits[] = {51, pg_feat.maxphy};
    for (int b = 0; b < 2; b++)
      for (int L = 1; L <= 4; L++)
        for (int perm = 0; perm < 2; perm++) {
          permissive(&c);
          c.e[L - 1] |= BIT(bits[b]);
          /* perm: a supervisor-only, read-only entry at another level (user accesses would fault) */
          if (perm) c.e[(L == 4 ? 3 : 4) - 1] &= ~(PTE_US | PTE_RW);
          six(&g, &c);
        }
  }
  pg_group_end(&g);
}

/* XD (bit 63) at each level: reserved with NXE=0; with NXE=1 an execute-disable right. */
static void group_xd(const char *name, int nxe) {
  struct pg_group g;
  pg_group_begin(&g, name);
  struct pg_case c = {{0, 1, 0, 0, 0, (u8)nxe, 0, 0}, PG_READ, {0, 0, 0, 0}};
  if (env_ok(&g, &c.env))
    for (int L = 1; L <= 4; L++) {
      permissive(&c);
      c.e[L - 1] |= PTE_XD;
      six(&g, &c);
    }
  pg_group_end(&g);
}

/* PS=1 in the PML4E is reserved. */
static void group_ps_pml4e(void) {
  struct pg_group g;
  pg_group_begin(&g, "paging.rsvd.ps-pml4e");
  struct pg_case c = {{0, 1, 0, 0, 0, 0, 0, 0}, PG_READ, {0, 0, 0, 0}};
  if (env_ok(&g, &c.env)) {
    permissive(&c);
    c.e[3] |= PTE_PS;
    six(&g, &c);
  }
  pg_group_end(&g);
}

/* A large page at level 2 (2 MiB) or 3 (1 GiB) mapping physical 0: rights, A/D, PAT and reserved bits. */
static void group_large(const char *name, int level) {
  struct pg_group g;
  pg_group_begin(&g, name);
  struct pg_case c = {{0, 1, 0, 0, 0, 0, 0, 0}, PG_READ, {0, 0, 0, 0}};
  static const u64 rights[] = {PTE_RW | PTE_US, PTE_US, PTE_RW};
  int top = level == 3 ? 29 : 20;
  if (env_ok(&g, &c.env)) {
    for (int r = 0; r < 3; r++)
      for (int ad = 0; ad < 2; ad++) {
        permissive(&c);
        c.e[level - 1] = PTE_P | PTE_PS | rights[r] | (ad ? PTE_A | PTE_D : 0);
        six(&g, &c);
      }
    /* bit 12 is PAT in a large-page entry (not reserved); 13 and the top frame bit below the page size are */
    const int extra[] = {12, 13, top};
    for (int i = 0; i < 3; i++) {
      permissive(&c);
      c.e[level - 1] = PTE_P | PTE_PS | PTE_RW | PTE_US | BIT(extra[i]);
      six(&g, &c);
    }
  }
  pg_group_end(&g);
}

void run_tests(void) {
  pg_init();
  group_maxphy();
  group_xd("paging.rsvd.xd-nxe0", 0);
  if (pg_feat.nx) group_xd("paging.rsvd.xd-nxe1", 1);
  else report_skip("paging.rsvd.xd-nxe1", "CPUID.80000001H:EDX[20] NX=0");
  group_ps_pml4e();
  group_large("paging.large.2m", 2);
  /* without CPUID 1-GByte pages, PS in a PDPTE is reserved: the same cases then expect RSVD faults */
  group_large(pg_feat.gbpages ? "paging.large.1g.gbpages" : "paging.large.1g.no-gbpages", 3);
  report_skip(pg_feat.gbpages ? "paging.large.1g.no-gbpages" : "paging.large.1g.gbpages", "CPUID.80000001H:EDX[26]=%d",
              pg_feat.gbpages);
}
