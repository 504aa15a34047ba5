/*
 * Paging conformance library (issue 6 item 5): one test linear address whose four paging-structure
 * entries the programs set bit by bit, accesses to it at CPL0 and CPL3 (read, write, fetch, and the
 * implicit supervisor read of an LDT descriptor and write of its accessed flag), a fast #PF path for
 * CPL0 accesses, and a reference predicate written from the manual:
 * Intel SDM Vol. 3A §4.5 (4-level paging, Tables 4-14..4-20 entry formats and reserved bits), §4.6
 * (access rights, SMEP/SMAP, implicit supervisor accesses), §4.6.2 (protection keys), §4.7 (page-fault
 * error code), §4.8 (accessed and dirty flags), §4.10.4 (INVLPG and TLB invalidation).
 *
 * Results are aggregated per group: one TSVMM-REPORT line with the number of cases, how many the
 * reference expects to fault, the number of mismatches (the first one described), "hash=" — an FNV-1a
 * digest of every case's checked outcome (vector, error code, the entries afterwards with don't-care
 * bits masked) — and "chash=" (every fault's CR2 relative to the accessed address), which must agree
 * between backends, and "ahash=", a digest of what the manual leaves open (A bits of upper-level
 * entries after a fault, the CR2 of a descriptor's accessed-flag write), which may differ.
 */
#ifndef PAGING_LIB_H
#define PAGING_LIB_H

#include "../guest/tsvmm.h"

/* Each program uses a subset of the helpers below. */
#pragma GCC diagnostic ignored "-Wunused-function"

/* ---- entry bits (SDM Vol. 3A Tables 4-14..4-20) ---- */
#define PTE_P BIT(0)
#define PTE_RW BIT(1)
#define PTE_US BIT(2)
#define PTE_A BIT(5)
#define PTE_D BIT(6)
#define PTE_PS BIT(7)
#define PTE_G BIT(8)
#define PTE_XD BIT(63)
#define PTE_PK(k) ((u64)(k) << 59)
#define PTE_ADDR 0x000FFFFFFFFFF000ull

/* ---- #PF error code (SDM Vol. 3A §4.7, Figure 4-12) ---- */
#define PFEC_P 0x01u
#define PFEC_W 0x02u
#define PFEC_U 0x04u
#define PFEC_RSVD 0x08u
#define PFEC_ID 0x10u
#define PFEC_PK 0x20u

#ifndef X86_CR4_SMEP
#define X86_CR4_SMEP BIT(20)
#endif
#ifndef X86_CR4_SMAP
#define X86_CR4_SMAP BIT(21)
#endif
#define RFLAGS_AC BIT(18)

/* The test linear address: PML4 slot 1 (the library's identity map uses slot 0 only). */
#define PG_VA 0x0000008000000000ull
/* Where each access kind lands in the 4-KiB test frame. */
#define PG_OFF_FETCH 0x40u /* not page-aligned: CR2 must be the byte's address, not the page's */
#define PG_OFF_READ 0x08u
#define PG_OFF_WRITE 0x10u
#define PG_OFF_LDT 0x100u
/* LDT entries 2 and 3: data descriptors with A=0 (DPL0, DPL3) */
#define PG_LDT_DPL0_NA 0x00cf92000000ffffull
#define PG_LDT_DPL3_NA 0x00cff2000000ffffull
#define PG_PATTERN 0x0123456789ABCDEFull
#define PG_WVALUE 0x5A5A0000C3C3FFFFull

/* ---- features, from the guest's own CPUID ---- */
struct pg_features {
  int nx, smep, smap, pku, gbpages, maxphy;
};
static struct pg_features pg_feat;

static void pg_read_features(void) {
  pg_feat.nx = cpuid_has(FEAT(0x80000001u, 0, EDX, 20));
  pg_feat.gbpages = cpuid_has(FEAT(0x80000001u, 0, EDX, 26));
  pg_feat.smep = cpuid_has(FEAT(7, 0, EBX, 7));
  pg_feat.smap = cpuid_has(FEAT(7, 0, EBX, 20));
  pg_feat.pku = cpuid_has(FEAT(7, 0, ECX, 3));
  u32 a = cpuid_reg(0x80000008u, 0, EAX) & 0xFF; /* SDM: CPUID.80000008H:EAX[7:0] = MAXPHYADDR */
  pg_feat.maxphy = a ? (int)a : 36;
}

/* ---- the paging structures behind PG_VA, and the frames ---- */
extern u64 pml4[];
static u64 pg_pdpt[512] __attribute__((aligned(4096)));
static u64 pg_pd[512] __attribute__((aligned(4096)));
static u64 pg_pt[512] __attribute__((aligned(4096)));
static u8 pg_frame[4096] __attribute__((aligned(4096)));
static u8 pg_frame2[4096] __attribute__((aligned(4096)));
/* Reached through 2-MiB and 1-GiB pages (which map physical 0): a known value and a write target. */
static volatile u64 pg_marker = 0x0F1E2D3C4B5A6978ull;
static volatile u64 pg_scratch;

/* entry of level L (1 = PTE, 2 = PDE, 3 = PDPTE, 4 = PML4E) for PG_VA */
static volatile u64 *pg_slot(int level) {
  switch (level) {
    case 1: return &pg_pt[0];
    case 2: return &pg_pd[0];
    case 3: return &pg_pdpt[0];
    default: return &pml4[1];
  }
}

static inline void invlpg(u64 a) { __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory"); }

/* A RET at a fixed place: what fetches at PG_VA + paging_ret_insn execute through a large page that
 * maps physical 0, and where a faulting CPL0 fetch resumes (it returns past the CALL). */
extern char paging_ret_insn[];
__asm__(".pushsection .text\n"
        ".globl paging_ret_insn\n"
        "paging_ret_insn: ret\n"
        ".popsection\n"
        );

/* ---- RFLAGS.AC without STAC/CLAC (an emulation failure under kvm_pvm) ---- */
static inline void pg_set_ac(int on) {
  u64 f;
  __asm__ volatile("pushfq; popq %0" : "=r"(f));
  f = on ? (f | RFLAGS_AC) : (f & ~RFLAGS_AC);
  __asm__ volatile("pushq %0; popfq" : : "r"(f) : "memory", "cc");
}

/* ---- accesses ---- */
/* PG_IMPLICIT: an implicit supervisor read (a descriptor with A=1); PG_IMPLICIT_W: the same read of a
 * descriptor with A=0, which the processor then sets: an implicit supervisor write after the read. */
enum pg_kind { PG_READ, PG_WRITE, PG_FETCH, PG_IMPLICIT, PG_IMPLICIT_W };
static const char *const pg_kind_name[] = {"read", "write", "fetch", "implicit", "implicit-write"};

/*
 * A fast #PF path for the CPL0 accesses (under kvm_pvm every guest instruction is emulated, and the
 * library's general handler costs hundreds of them): vector 14's IDT gate is pointed at pg_pf_entry,
 * which, for a fault at CPL0 while pg_fixup is armed, records the error code and CR2, resumes at
 * pg_fixup with IRETQ, and otherwise jumps to the library's handler (faults at CPL3 for run_user,
 * anything unexpected). The original gate is restored by pg_fast_pf(0).
 */
volatile u64 pg_fixup, pg_pf_error, pg_pf_cr2, pg_lib_pf;
volatile int pg_pf_vector;
extern char pg_pf_entry[];
__asm__(".pushsection .text\n"
        ".globl pg_pf_entry\n"
        "pg_pf_entry:\n"
        "  testb $3, 16(%rsp)\n"
        "  jnz 1f\n"
        "  cmpq $0, pg_fixup(%rip)\n"
        "  je 1f\n"
        "  pushq %rax\n"
        "  movq 8(%rsp), %rax\n"
        "  movq %rax, pg_pf_error(%rip)\n"
        "  movq %cr2, %rax\n"
        "  movq %rax, pg_pf_cr2(%rip)\n"
        "  movq pg_fixup(%rip), %rax\n"
        "  movq %rax, 16(%rsp)\n"
        "  movq $0, pg_fixup(%rip)\n"
        "  movl $14, pg_pf_vector(%rip)\n"
        "  popq %rax\n"
        "  addq $8, %rsp\n"
        "  iretq\n"
        "1: jmp *pg_lib_pf(%rip)\n"
        ".popsection\n");

static volatile u8 *pg_idt14(void) {
  struct {
    u16 limit;
    u64 base;
  } __attribute__((packed)) idtr;
  __asm__ volatile("sidt %0" : "=m"(idtr));
  return (volatile u8 *)(idtr.base + 16 * PF_VECTOR);
}
static void pg_set_gate_offset(volatile u8 *g, u64 h) {
  *(volatile u16 *)(g + 0) = (u16)h;
  *(volatile u16 *)(g + 6) = (u16)(h >> 16);
  *(volatile u32 *)(g + 8) = (u32)(h >> 32);
}
static void pg_fast_pf(int on) {
  volatile u8 *g = pg_idt14();
  u64 cur = *(volatile u16 *)(g + 0) | ((u64) * (volatile u16 *)(g + 6) << 16) | ((u64) * (volatile u32 *)(g + 8) << 32);
  if (on && cur != (u64)pg_pf_entry) {
    pg_lib_pf = cur;
    pg_set_gate_offset(g, (u64)pg_pf_entry);
  } else if (!on && cur == (u64)pg_pf_entry) {
    pg_set_gate_offset(g, pg_lib_pf);
  }
}

/* "1:" is the access, pg_fixup points just past it */
#define PG_ARMED(insn) "leaq 1f(%%rip), %%rcx\n movq %%rcx, pg_fixup(%%rip)\n " insn "\n1: movq $0, pg_fixup(%%rip)\n"

static int k_read(u64 a, u64 *v) {
  u64 x = 0;
  pg_pf_vector = NO_EXCEPTION;
  __asm__ volatile(PG_ARMED("movq (%1), %0") : "+r"(x) : "r"(a) : "rcx", "memory");
  *v = x;
  return pg_pf_vector;
}
static int k_write(u64 a, u64 v) {
  pg_pf_vector = NO_EXCEPTION;
  __asm__ volatile(PG_ARMED("movq %1, (%0)") : : "r"(a), "r"(v) : "rcx", "memory");
  return pg_pf_vector;
}
/* A faulting fetch resumes at paging_ret_insn, which returns past the CALL. */
static int k_fetch(u64 a) {
  pg_pf_vector = NO_EXCEPTION;
  pg_fixup = (u64)paging_ret_insn;
  __asm__ volatile("call *%0\n movq $0, pg_fixup(%%rip)" : : "r"(a) : "memory");
  return pg_pf_vector;
}
/* Implicit supervisor read: loading ES with an LDT selector reads the descriptor through the LDT's
 * linear base (SDM Vol. 3A §4.6 "implicit supervisor-mode accesses"). */
static int k_implicit(u16 sel) {
  pg_pf_vector = NO_EXCEPTION;
  __asm__ volatile(PG_ARMED("movw %w0, %%es") : : "r"(sel) : "rcx", "memory");
  __asm__ volatile("movw %w0, %%es" : : "r"(0x10) : "memory");
  return pg_pf_vector;
}

/* CPL3 side: bit 63 of the argument asks for RFLAGS.AC=1 (POPF may set AC at any CPL). */
#define U_AC BIT(63)
static USER_CODE void u_ac(u64 arg) {
  if (arg & U_AC) __asm__ volatile("pushfq; orq $0x40000, (%%rsp); popfq" : : : "memory", "cc");
}
static USER_CODE u64 u_read(u64 arg) {
  u_ac(arg);
  return *(volatile u64 *)(arg & ~U_AC);
}
static USER_CODE u64 u_write(u64 arg) {
  u_ac(arg);
  *(volatile u64 *)(arg & ~U_AC) = PG_WVALUE;
  return 0;
}
static USER_CODE u64 u_fetch(u64 arg) {
  u_ac(arg);
  ((void (*)(void))(arg & ~U_AC))();
  return 0;
}
static USER_CODE u64 u_implicit(u64 arg) {
  u_ac(arg);
  __asm__ volatile("movw %w0, %%es" : : "r"((u16)0x0F) : "memory");
  return 0;
}
static USER_CODE u64 u_implicit_w(u64 arg) {
  u_ac(arg);
  __asm__ volatile("movw %w0, %%es" : : "r"((u16)0x1F) : "memory");
  return 0;
}

/* ---- the CPU state of a case ---- */
struct pg_env {
  u8 cpl, wp, smep, smap, ac, nxe, pke;
  u32 pkru;
};

static struct {
  u64 cr0, cr4, efer;
  u32 pkru;
} pg_cur;

static void wrpkru(u32 v) { __asm__ volatile(".byte 0x0f, 0x01, 0xef" : : "a"(v), "c"(0), "d"(0) : "memory"); }

static u64 pg_rdmsr(u32 i) {
  u64 v = 0;
  rdmsr_safe(i, &v);
  return v;
}

static void pg_env_init(void) {
  pg_cur.cr0 = read_cr0();
  pg_cur.cr4 = read_cr4();
  pg_cur.efer = pg_rdmsr(MSR_EFER);
  pg_cur.pkru = 0;
}

/* Load CR0.WP, CR4.SMEP/SMAP/PKE, EFER.NXE and PKRU; returns 0, or the vector a write raised. */
static int pg_apply_env(const struct pg_env *e) {
  int v;
  u64 cr0 = (pg_cur.cr0 & ~X86_CR0_WP) | (e->wp ? X86_CR0_WP : 0);
  if (cr0 != pg_cur.cr0) {
    if ((v = wrcr0_safe(cr0)) != NO_EXCEPTION) return v;
    pg_cur.cr0 = cr0;
  }
  u64 efer = (pg_cur.efer & ~EFER_NXE) | (e->nxe ? EFER_NXE : 0);
  if (efer != pg_cur.efer) {
    if ((v = wrmsr_safe(MSR_EFER, efer)) != NO_EXCEPTION) return v;
    pg_cur.efer = efer;
  }
  u64 cr4 = pg_cur.cr4 & ~(X86_CR4_SMEP | X86_CR4_SMAP | X86_CR4_PKE);
  if (e->smep) cr4 |= X86_CR4_SMEP;
  if (e->smap) cr4 |= X86_CR4_SMAP;
  if (e->pkru != pg_cur.pkru) { /* WRPKRU needs CR4.PKE=1; PKRU keeps its value when PKE is cleared */
    if ((v = wrcr4_safe(pg_cur.cr4 | X86_CR4_PKE)) != NO_EXCEPTION) return v;
    pg_cur.cr4 |= X86_CR4_PKE;
    wrpkru(e->pkru);
    pg_cur.pkru = e->pkru;
  }
  if (e->pke) cr4 |= X86_CR4_PKE;
  if (cr4 != pg_cur.cr4) {
    if ((v = wrcr4_safe(cr4)) != NO_EXCEPTION) return v;
    pg_cur.cr4 = cr4;
  }
  return NO_EXCEPTION;
}

static void pg_env_reset(void) {
  struct pg_env e = {0, 1, 0, 0, 0, 0, 0, 0};
  pg_apply_env(&e);
}

/* ---- a case ---- */
struct pg_case {
  struct pg_env env;
  enum pg_kind kind;
  u64 e[4]; /* flags of the entries for PG_VA, e[0] = PTE … e[3] = PML4E; addresses are added */
};

/* Where the access lands: its linear address, and the physical address it reads or writes. */
static int pg_leaf_level(const struct pg_case *c) {
  if (c->e[2] & PTE_PS) return 3;
  if (c->e[1] & PTE_PS) return 2;
  return 1;
}
static u64 pg_target(const struct pg_case *c) {
  int big = pg_leaf_level(c) > 1;
  switch (c->kind) {
    case PG_READ: return PG_VA + (big ? (u64)&pg_marker : PG_OFF_READ);
    case PG_WRITE: return PG_VA + (big ? (u64)&pg_scratch : PG_OFF_WRITE);
    case PG_FETCH: return PG_VA + (big ? (u64)paging_ret_insn : PG_OFF_FETCH);
    case PG_IMPLICIT: return PG_VA + PG_OFF_LDT + (c->env.cpl == 3 ? 8 : 0);
    default: return PG_VA + PG_OFF_LDT + 16 + (c->env.cpl == 3 ? 8 : 0);
  }
}

/* The full entries: table addresses for non-leaf entries, frames for leaves (large pages map 0). */
static void pg_full_entries(const struct pg_case *c, u64 out[4]) {
  int leaf = pg_leaf_level(c);
  out[3] = c->e[3] | (u64)pg_pdpt;
  out[2] = c->e[2] | (leaf == 3 ? 0 : (u64)pg_pd);
  out[1] = c->e[1] | (leaf == 2 ? 0 : (u64)pg_pt);
  out[0] = c->e[0] | (u64)pg_frame;
}

/* ---- the reference predicate (written from the SDM text, independent of the backends) ---- */
struct pg_expect {
  int fault;
  u32 error;
  int stop; /* level where the walk stopped: the faulting level for P=0/RSVD, else the leaf level */
  int perm; /* 1 when the fault is an access-rights (or PK) fault on a complete translation */
  int read_done; /* PG_IMPLICIT_W: the read part completed (A flags set) before the write faulted */
};

static u64 pg_bits(int hi, int lo) { return (hi >= 63 ? ~0ull : (BIT(hi + 1) - 1)) & ~(BIT(lo) - 1); }

static struct pg_expect pg_reference(const struct pg_case *c) {
  const struct pg_env *v = &c->env;
  struct pg_expect x = {0, 0, 1, 0, 0};
  int write = c->kind == PG_WRITE || c->kind == PG_IMPLICIT_W, fetch = c->kind == PG_FETCH;
  int implicit = c->kind == PG_IMPLICIT || c->kind == PG_IMPLICIT_W;
  /* §4.6: implicit accesses to system structures are supervisor-mode accesses whatever the CPL */
  int user = v->cpl == 3 && !implicit;
  /* §4.7: W = write access; U = user-mode access; I/D = fetch with SMEP=1 or (PAE/4-level and NXE=1) */
  u32 ec = (write ? PFEC_W : 0) | (user ? PFEC_U : 0) | (fetch && (v->smep || v->nxe) ? PFEC_ID : 0);
  int us = 1, rw = 1, xd = 0, leaf = 1;
  u64 leafe = 0;
  for (int L = 4; L >= 1; L--) {
    u64 e = c->e[L - 1];
    /* §4.5: a not-present entry ends the walk; its other bits are ignored */
    if (!(e & PTE_P)) {
      x.fault = 1, x.error = ec, x.stop = L;
      return x;
    }
    /* Table 4-14..4-20: bits MAXPHYADDR..51 are reserved; bit 63 is reserved when NXE=0; PS is
     * reserved in a PML4E; PS in a PDPTE needs 1-GByte pages (CPUID.80000001H:EDX[26]); large-page
     * frames have reserved bits 29:13 (1 GiB) and 20:13 (2 MiB) */
    u64 rsvd = pg_feat.maxphy < 52 ? pg_bits(51, pg_feat.maxphy) : 0;
    if (!v->nxe) rsvd |= PTE_XD;
    int is_leaf = L == 1 || ((L == 2 || L == 3) && (e & PTE_PS));
    if (L == 4) rsvd |= PTE_PS;
    if (L == 3 && (e & PTE_PS)) rsvd |= pg_feat.gbpages ? pg_bits(29, 13) : PTE_PS;
    if (L == 2 && (e & PTE_PS)) rsvd |= pg_bits(20, 13);
    if (e & rsvd) {
      x.fault = 1, x.error = ec | PFEC_P | PFEC_RSVD, x.stop = L;
      return x;
    }
    /* §4.6.1: U/S and R/W are the AND over all levels; XD is the OR (with NXE=1) */
    us &= (e & PTE_US) != 0;
    rw &= (e & PTE_RW) != 0;
    xd |= v->nxe && (e & PTE_XD);
    if (is_leaf) {
      leaf = L, leafe = e;
      break;
    }
  }
  x.stop = leaf;
  int ok;
  if (user) {
    /* user-mode accesses: user-mode addresses only; writes need R/W=1; fetches need XD=0 */
    ok = us && (!write || rw) && (!fetch || !xd);
  } else if (fetch) {
    /* supervisor fetches: never from XD pages; from user-mode addresses only with SMEP=0 */
    ok = !xd && !(us && v->smep);
  } else {
    /* supervisor data: to user-mode addresses with SMAP=1 only explicit accesses with AC=1 (CPL<3);
     * writes: any address with WP=0, writable addresses only with WP=1 */
    int smap_ok = !(us && v->smap) || (!implicit && v->ac && v->cpl < 3);
    ok = smap_ok && (!write || !v->wp || rw);
  }
  /* §4.6.2 / §4.7 PK flag: IA-32e mode, CR4.PKE=1, a data access to a user-mode address whose key has
   * AD=1, or WD=1 on a write by user mode or by supervisor mode with CR0.WP=1 */
  int pk = 0;
  if (v->pke && us && !fetch) {
    u32 k = (u32)(leafe >> 59) & 15;
    int ad = (v->pkru >> (2 * k)) & 1, wd = (v->pkru >> (2 * k + 1)) & 1;
    pk = ad || (wd && write && (user || v->wp));
  }
  if (!ok || pk) x.fault = 1, x.perm = 1, x.error = ec | PFEC_P | (pk ? PFEC_PK : 0);
  return x;
}

/* The expectation of a case; a descriptor's accessed-flag update is a read, then a write (§4.8: the
 * read's translation sets the A flags even when the write then faults). */
static struct pg_expect pg_expect_case(const struct pg_case *c) {
  if (c->kind != PG_IMPLICIT_W) return pg_reference(c);
  struct pg_case r = *c;
  r.kind = PG_IMPLICIT;
  struct pg_expect x = pg_reference(&r);
  if (x.fault) return x;
  x = pg_reference(c);
  if (x.fault) x.read_done = 1;
  return x;
}

/* ---- running and checking ---- */
struct pg_observed {
  int vector;
  u64 error, cr2, value;
  u64 before[4], after[4];
};

/* Runs one case: sets the entries, invalidates, accesses at the case's CPL. */
static void pg_run(const struct pg_case *c, struct pg_observed *o) {
  u64 full[4];
  pg_full_entries(c, full);
  /* Writes only the entries that differ: under shadow paging every write to a paging structure is
   * expensive, and upper-level entries rarely change between cases (the groups preset their A bits). */
  for (int L = 4; L >= 1; L--) {
    if (*pg_slot(L) != full[L - 1]) *pg_slot(L) = full[L - 1];
    o->before[L - 1] = full[L - 1];
  }
  u64 a = pg_target(c);
  volatile u64 *rd = (volatile u64 *)(pg_frame + PG_OFF_READ), *wr = (volatile u64 *)(pg_frame + PG_OFF_WRITE);
  if (*rd != PG_PATTERN) *rd = PG_PATTERN;
  if (c->kind == PG_IMPLICIT_W) { /* the descriptors the implicit write sets A in: A=0 again */
    u64 *ldt = (u64 *)(pg_frame + PG_OFF_LDT);
    if (ldt[2] != PG_LDT_DPL0_NA) ldt[2] = PG_LDT_DPL0_NA;
    if (ldt[3] != PG_LDT_DPL3_NA) ldt[3] = PG_LDT_DPL3_NA;
  }
  if (*wr) *wr = 0;
  if (pg_scratch) pg_scratch = 0;
  invlpg(PG_VA);
  if ((a ^ PG_VA) >> 12) invlpg(a);
  o->value = 0;
  o->error = o->cr2 = 0;
  if (c->env.cpl == 0) {
    pg_set_ac(c->env.ac);
    switch (c->kind) {
      case PG_READ: o->vector = k_read(a, &o->value); break;
      case PG_WRITE: o->vector = k_write(a, PG_WVALUE); break;
      case PG_FETCH: o->vector = k_fetch(a); break;
      case PG_IMPLICIT: o->vector = k_implicit(0x04); break;
      default: o->vector = k_implicit(0x14); break;
    }
    pg_set_ac(0);
  } else {
    static u64 (*const fns[])(u64) = {u_read, u_write, u_fetch, u_implicit, u_implicit_w};
    /* run_user stores the return address on the (user) stack at CPL0: that needs AC=1 under SMAP */
    pg_set_ac(1);
    o->vector = run_user(fns[c->kind], a | (c->env.ac ? U_AC : 0), &o->value);
    pg_set_ac(0);
  }
  if (o->vector != NO_EXCEPTION && c->env.cpl == 0) o->error = pg_pf_error, o->cr2 = pg_pf_cr2;
  else if (o->vector != NO_EXCEPTION) o->error = last_ex.error_code, o->cr2 = last_ex.cr2;
  for (int L = 1; L <= 4; L++) o->after[L - 1] = *pg_slot(L);
}

/* FNV-1a over 32-bit words (cheap: every instruction is emulated under kvm_pvm) */
static u32 pg_fnv(u32 h, u64 v) {
  h = (h ^ (u32)v) * 16777619u;
  return (h ^ (u32)(v >> 32)) * 16777619u;
}

struct pg_group {
  const char *name;
  u32 cases, faults, mismatches, hash, chash, ahash; /* faults: cases the reference expects to fault */
  /* mismatches whose only fault is a CR2 holding the page base instead of the faulting address */
  u32 cr2_page_base;
  char first[240];
  char first_cr2[240];
};

static void pg_group_begin(struct pg_group *g, const char *name) {
  g->name = name;
  g->cases = g->faults = g->mismatches = g->cr2_page_base = 0;
  g->hash = g->chash = g->ahash = 2166136261u;
  g->first[0] = g->first_cr2[0] = 0;
}

static const char *pg_vec(int vector, u64 error, char *buf, unsigned long n) {
  if (vector == PF_VECTOR) snprintf(buf, n, "#PF(%#lx)", error);
  else snprintf(buf, n, "%s", vector_name(vector));
  return buf;
}

/* Run a case, compare with the reference, fold it into the group. Returns 1 when it matched. */
static int pg_check(struct pg_group *g, const struct pg_case *c) {
  struct pg_observed o;
  struct pg_expect x = pg_expect_case(c);
  pg_run(c, &o);
  u64 a = pg_target(c);
  const char *why = 0;
  int exp_vec = x.fault ? PF_VECTOR : NO_EXCEPTION;
  if (o.vector != exp_vec) why = "vector";
  else if (x.fault && o.error != x.error) why = "error-code";
  /* the accessed-flag write of a descriptor may report the descriptor's address or that of the byte
   * holding the flag: CR2 within the descriptor is accepted (and kept out of the checked hash) */
  else if (x.fault && o.cr2 != a && !(c->kind == PG_IMPLICIT_W && x.read_done && o.cr2 - a < 8)) why = "cr2";
  else if (!x.fault && c->kind == PG_READ && o.value != (pg_leaf_level(c) > 1 ? pg_marker : PG_PATTERN)) why = "value";
  else if (!x.fault && c->kind == PG_IMPLICIT_W &&
           !(((u64 *)(pg_frame + PG_OFF_LDT))[c->env.cpl == 3 ? 3 : 2] & BIT(40)))
    why = "descriptor-A";
  else if (!x.fault && c->kind == PG_WRITE &&
           (pg_leaf_level(c) > 1 ? pg_scratch : *(volatile u64 *)(pg_frame + PG_OFF_WRITE)) != PG_WVALUE)
    why = "written-value";
  /* §4.8 A/D: after a completed access every entry used has A=1 and the leaf has D=1 after a write;
   * after a fault the faulting/leaf entry is unchanged, entries above it may have gained A */
  u64 checked = 0;
  for (int L = 4; L >= 1; L--) {
    u64 b = o.before[L - 1], after = o.after[L - 1], want = b, dontcare = 0;
    int wrote = c->kind == PG_WRITE || c->kind == PG_IMPLICIT_W;
    if (L > x.stop) {
      if (x.fault && !x.read_done) dontcare = PTE_A;
      else want = b | PTE_A;
    } else if (L == x.stop && (!x.fault || x.read_done)) {
      want = b | PTE_A | (wrote && !x.fault ? PTE_D : 0);
    }
    if (!why && (after & ~dontcare) != (want & ~dontcare)) why = L == x.stop ? "leaf-A/D" : "upper-A/D";
    u64 seen = after & ~dontcare; /* the hash holds only what the manual fixes */
    checked = checked * 4 + ((seen & PTE_A) ? 1 : 0) + ((seen & PTE_D) ? 2 : 0);
    if (dontcare) g->ahash = pg_fnv(g->ahash, after & PTE_A);
  }
  g->cases++;
  g->faults += x.fault ? 1 : 0;
  g->hash = pg_fnv(g->hash, (u64)(u32)o.vector << 32 | (o.vector == PF_VECTOR ? o.error : 0));
  g->hash = pg_fnv(g->hash, checked);
  u64 cr2d = o.vector == PF_VECTOR ? o.cr2 - a : 0;
  if (c->kind == PG_IMPLICIT_W && x.read_done) g->ahash = pg_fnv(g->ahash, cr2d);
  else g->chash = pg_fnv(g->chash, cr2d);
  if (!why) return 1;
  g->mismatches++;
  int page_base = why[0] == 'c' && o.cr2 == (a & ~0xFFFull) && o.cr2 != a;
  if (page_base) g->cr2_page_base++;
  char *dst = page_base ? g->first_cr2 : g->first;
  if (!dst[0]) {
    char e[24], got[24];
    const struct pg_env *v = &c->env;
    snprintf(dst, sizeof(g->first),
             "first(%s): %s cpl=%d wp=%d smep=%d smap=%d ac=%d nxe=%d pke=%d pkru=%#x pml4e=%#lx pdpte=%#lx pde=%#lx "
             "pte=%#lx want=%s saw=%s cr2=%#lx(want %#lx) after=%lx/%lx/%lx/%lx",
             why, pg_kind_name[c->kind], v->cpl, v->wp, v->smep, v->smap, v->ac, v->nxe, v->pke, v->pkru, c->e[3],
             c->e[2], c->e[1], c->e[0], pg_vec(exp_vec, x.error, e, sizeof(e)), pg_vec(o.vector, o.error, got, sizeof(got)),
             o.cr2, a, o.after[3] & 0xFFF, o.after[2] & 0xFFF, o.after[1] & 0xFFF, o.after[0] & 0xFFF);
  }
  return 0;
}

/*
 * One line per group. A failing line ends in "expect=<x> got=<y>" naming the kind of the first
 * mismatch: "expect=match got=mismatch" in general, and "expect=cr2-linear got=cr2-page-base" when
 * every mismatch is a CR2 holding the page base instead of the faulting linear address (a stable
 * token for the runner's deviation table).
 */
/* Loads the case's CPU state; a refused write is a mismatch of the group. */
static int pg_env_ok(struct pg_group *g, const struct pg_env *e) {
  int v = pg_apply_env(e);
  if (v == NO_EXCEPTION) return 1;
  if (!g->mismatches++)
    snprintf(g->first, sizeof(g->first), "first(env): wp=%d smep=%d smap=%d nxe=%d pke=%d pkru=%#x refused with %s",
             e->wp, e->smep, e->smap, e->nxe, e->pke, e->pkru, vector_name(v));
  return 0;
}

/* Upper-level entries fully permissive, except level `lvl` (2..4) which gets P | `bits`. Their A bits
 * are preset (the accessed-dirty group covers A on upper levels) so they rarely need rewriting. */
static void pg_uppers(struct pg_case *c, int lvl, u64 bits) {
  for (int L = 2; L <= 4; L++) c->e[L - 1] = PTE_P | PTE_RW | PTE_US | PTE_A;
  c->e[lvl - 1] = PTE_P | PTE_A | bits;
}

static void pg_group_end(struct pg_group *g) {
  int only_cr2 = g->mismatches && g->mismatches == g->cr2_page_base;
  const char *first = only_cr2 ? g->first_cr2 : g->first;
  if (!g->mismatches) {
    report(g->name, g->cases > 0, "cases=%u faults=%u mismatches=0 hash=%08x chash=%08x ahash=%08x", g->cases, g->faults,
           g->hash, g->chash, g->ahash);
  } else {
    /* the report's detail buffer is 320 characters: cut the description so expect=/got= survive */
    char cut[150];
    snprintf(cut, sizeof(cut), "%s", first);
    report(g->name, 0, "cases=%u faults=%u mismatches=%u cr2-page-base=%u hash=%08x chash=%08x ahash=%08x %s expect=%s got=%s",
           g->cases, g->faults, g->mismatches, g->cr2_page_base, g->hash, g->chash, g->ahash, cut, only_cr2 ? "cr2-linear" : "match",
           only_cr2 ? "cr2-page-base" : "mismatch");
  }
  pg_env_reset();
}

/* ---- the LDT whose descriptors the implicit accesses read (base PG_VA + PG_OFF_LDT) ---- */
extern u64 gdt[];
static u64 pg_gdt[10] __attribute__((aligned(16)));

/* A copy of the library's GDT plus an LDT descriptor (selector 0x40, SDM Vol. 3A §8.2.3-style
 * 16-byte system descriptor, type 2), loaded with LGDT/LLDT. LDT entries 0 (DPL0) and 1 (DPL3): data
 * with A=1, so loading them only reads; entries 2 and 3: A=0, so loading them also writes A back. */
static void pg_setup_ldt(void) {
  u64 *ldt = (u64 *)(pg_frame + PG_OFF_LDT);
  ldt[0] = 0x00cf93000000ffffull;
  ldt[1] = 0x00cff3000000ffffull;
  ldt[2] = PG_LDT_DPL0_NA;
  ldt[3] = PG_LDT_DPL3_NA;
  for (int i = 0; i < 8; i++) pg_gdt[i] = gdt[i];
  u64 base = PG_VA + PG_OFF_LDT, limit = 31;
  pg_gdt[8] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x82ull << 40) | (((base >> 24) & 0xFF) << 56);
  pg_gdt[9] = base >> 32;
  struct {
    u16 limit;
    u64 base;
  } __attribute__((packed)) ptr = {sizeof(pg_gdt) - 1, (u64)pg_gdt};
  __asm__ volatile("lgdt %0" : : "m"(ptr) : "memory");
  __asm__ volatile("lldt %w0" : : "r"(0x40) : "memory");
}

static void pg_init(void) {
  pg_read_features();
  pg_env_init();
  pg_fast_pf(1);
  pg_frame[PG_OFF_FETCH] = 0xC3; /* RET: what a successful fetch at PG_VA + PG_OFF_FETCH executes */
  pg_frame2[PG_OFF_FETCH] = 0xC3;
  printf("paging: features nx=%d smep=%d smap=%d pku=%d gbpages=%d maxphyaddr=%d\n", pg_feat.nx, pg_feat.smep,
         pg_feat.smap, pg_feat.pku, pg_feat.gbpages, pg_feat.maxphy);
}

#endif
