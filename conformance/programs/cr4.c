/*
 * cr4: every CR4 bit under MOV to CR4 in 64-bit mode (Intel SDM Vol. 3A §2.5 "Control Registers",
 * Figure 2-8; KVM's rules: /work/shared/spec/kvm-contract.md §1). For each bit 0..63, from a
 * base of CR4.PAE only, set it and assert: always-allowed bits don't fault; feature-gated bits fault
 * (#GP) iff the guest CPUID lacks the feature; reserved bits (SMXE, KL, PKS, LASS, FRED, undefined)
 * always #GP; PAE can't be cleared and LA57 can't be toggled while EFER.LMA=1. Also: CPUID.1:ECX
 * OSXSAVE and CPUID.7.0:ECX OSPKE track CR4, PCIDE needs CR3[11:0]=0, CET needs CR0.WP=1.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "cr4";

enum kind { ALWAYS, GATED, RESERVED, SPECIAL };

struct cr4_bit {
  const char *name;
  u8 bit;
  u8 kind;
  u8 ngates;
  struct feature gate[2]; /* allowed iff any gate is enumerated */
  const char *gate_name;
};

#define NOGATE {FEAT(0, 0, EAX, 0), FEAT(0, 0, EAX, 0)}

static const struct cr4_bit bits[] = {
    {"VME", 0, ALWAYS, 0, NOGATE, ""},
    {"PVI", 1, ALWAYS, 0, NOGATE, ""},
    {"TSD", 2, ALWAYS, 0, NOGATE, ""},
    {"DE", 3, ALWAYS, 0, NOGATE, ""},
    {"PSE", 4, ALWAYS, 0, NOGATE, ""},
    {"PAE", 5, SPECIAL, 0, NOGATE, ""},
    {"MCE", 6, ALWAYS, 0, NOGATE, ""},
    {"PGE", 7, ALWAYS, 0, NOGATE, ""},
    {"PCE", 8, ALWAYS, 0, NOGATE, ""},
    {"OSFXSR", 9, ALWAYS, 0, NOGATE, ""},
    {"OSXMMEXCPT", 10, ALWAYS, 0, NOGATE, ""},
    {"UMIP", 11, GATED, 1, {FEAT(7, 0, ECX, 2)}, "7.0:ECX[2]"},
    {"LA57", 12, SPECIAL, 1, {FEAT(7, 0, ECX, 16)}, "7.0:ECX[16]"},
    {"VMXE", 13, GATED, 1, {FEAT(1, 0, ECX, 5)}, "1:ECX[5]"},
    {"SMXE", 14, RESERVED, 1, {FEAT(1, 0, ECX, 6)}, "1:ECX[6]"},
    {"FSGSBASE", 16, GATED, 1, {FEAT(7, 0, EBX, 0)}, "7.0:EBX[0]"},
    {"PCIDE", 17, GATED, 1, {FEAT(1, 0, ECX, 17)}, "1:ECX[17]"},
    {"OSXSAVE", 18, GATED, 1, {FEAT(1, 0, ECX, 26)}, "1:ECX[26]"},
    {"KL", 19, RESERVED, 1, {FEAT(7, 0, ECX, 23)}, "7.0:ECX[23]"},
    {"SMEP", 20, GATED, 1, {FEAT(7, 0, EBX, 7)}, "7.0:EBX[7]"},
    {"SMAP", 21, GATED, 1, {FEAT(7, 0, EBX, 20)}, "7.0:EBX[20]"},
    {"PKE", 22, GATED, 1, {FEAT(7, 0, ECX, 3)}, "7.0:ECX[3]"},
    {"CET", 23, GATED, 2, {FEAT(7, 0, ECX, 7), FEAT(7, 0, EDX, 20)}, "7.0:ECX[7]|7.0:EDX[20]"},
    {"PKS", 24, RESERVED, 1, {FEAT(7, 0, ECX, 31)}, "7.0:ECX[31]"},
    {"LASS", 27, RESERVED, 1, {FEAT(7, 1, EAX, 6)}, "7.1:EAX[6]"},
    {"LAM_SUP", 28, GATED, 1, {FEAT(7, 1, EAX, 26)}, "7.1:EAX[26]"},
    {"FRED", 32, RESERVED, 1, {FEAT(7, 1, EAX, 17)}, "7.1:EAX[17]"},
};

static const struct cr4_bit *find(int bit) {
  for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
    if (bits[i].bit == bit) return &bits[i];
  return 0;
}

static int gate_has(const struct cr4_bit *b) {
  int has = 0;
  for (int i = 0; i < b->ngates; i++) has |= cpuid_has(b->gate[i]);
  return has;
}

static u64 base;

/* Set base|bit, check the outcome and the read-back, and restore the base: one report line. */
static int try_set(const char *name, u64 bit, int expected, const char *detail) {
  u64 v = base | bit;
  int got = wrcr4_safe(v);
  u64 now = read_cr4();
  int restore = wrcr4_safe(base);
  char extra[96] = "";
  if (got == NO_EXCEPTION && now != v) snprintf(extra, sizeof(extra), " readback=%#lx", now);
  else if (got != NO_EXCEPTION && now != base) snprintf(extra, sizeof(extra), " fault-but-CR4=%#lx", now);
  else if (restore != NO_EXCEPTION) snprintf(extra, sizeof(extra), " restore=%s", vector_name(restore));
  int ok = got == expected && !extra[0];
  report(name, ok, "%s expect=%s got=%s%s", detail, vector_name(expected), vector_name(got), extra);
  return ok;
}

static void check_osxsave_mirror(void) {
  if (!cpuid_has(FEAT(1, 0, ECX, 26))) {
    report_skip("cr4.OSXSAVE.cpuid-mirror", "no XSAVE in CPUID");
    return;
  }
  int before = cpuid_has(FEAT(1, 0, ECX, 27));
  int got = wrcr4_safe(base | X86_CR4_OSXSAVE);
  int during = cpuid_has(FEAT(1, 0, ECX, 27));
  wrcr4_safe(base);
  int after = cpuid_has(FEAT(1, 0, ECX, 27));
  report("cr4.OSXSAVE.cpuid-mirror", got == NO_EXCEPTION && !before && during && !after,
         "1:ECX[27] off=%d on=%d off-again=%d set=%s", before, during, after, vector_name(got));
}

static void check_ospke_mirror(void) {
  if (!cpuid_has(FEAT(7, 0, ECX, 3))) {
    report_skip("cr4.PKE.cpuid-mirror", "no PKU in CPUID");
    return;
  }
  int before = cpuid_has(FEAT(7, 0, ECX, 4));
  int got = wrcr4_safe(base | X86_CR4_PKE);
  int during = cpuid_has(FEAT(7, 0, ECX, 4));
  wrcr4_safe(base);
  int after = cpuid_has(FEAT(7, 0, ECX, 4));
  report("cr4.PKE.cpuid-mirror", got == NO_EXCEPTION && !before && during && !after,
         "7.0:ECX[4] off=%d on=%d off-again=%d set=%s", before, during, after, vector_name(got));
}

static void check_pcide_cr3(void) {
  if (!cpuid_has(FEAT(1, 0, ECX, 17))) {
    report_skip("cr4.PCIDE.cr3-low-bits", "no PCID in CPUID");
    return;
  }
  u64 cr3 = read_cr3();
  int r = wrcr3_safe(cr3 | 0x8); /* PWT: CR3[11:0] != 0 while PCIDE=0 */
  int got = wrcr4_safe(base | X86_CR4_PCIDE);
  wrcr4_safe(base);
  wrcr3_safe(cr3);
  if (r != NO_EXCEPTION) {
    report("cr4.PCIDE.cr3-low-bits", 0, "setting CR3.PWT raised %s", vector_name(r));
    return;
  }
  expect_vector("cr4.PCIDE.cr3-low-bits", GP_VECTOR, got, "CR3[11:0]=0x8 rule=needs-CR3[11:0]=0");
}

static void check_cet_wp(void) {
  if (!cpuid_has(FEAT(7, 0, ECX, 7)) && !cpuid_has(FEAT(7, 0, EDX, 20))) {
    report_skip("cr4.CET.needs-WP", "no SHSTK/IBT in CPUID");
    return;
  }
  u64 cr0 = read_cr0();
  int r = wrcr0_safe(cr0 & ~X86_CR0_WP);
  int got = wrcr4_safe(base | X86_CR4_CET);
  wrcr4_safe(base);
  wrcr0_safe(cr0);
  if (r != NO_EXCEPTION) {
    report("cr4.CET.needs-WP", 0, "clearing CR0.WP raised %s", vector_name(r));
    return;
  }
  expect_vector("cr4.CET.needs-WP", GP_VECTOR, got, "CR0.WP=0 rule=CET-needs-WP");
}

void run_tests(void) {
  u64 orig = read_cr4();
  base = X86_CR4_PAE;
  int r = wrcr4_safe(base);
  report("cr4.base", r == NO_EXCEPTION && read_cr4() == base, "orig=%#lx base=%#lx set=%s", orig, base,
         vector_name(r));
  if (r != NO_EXCEPTION) return;

  char name[48], detail[128];
  for (int bit = 0; bit < 64; bit++) {
    const struct cr4_bit *b = find(bit);
    if (b) snprintf(name, sizeof(name), "cr4.%s", b->name);
    else snprintf(name, sizeof(name), "cr4.bit%d", bit);
    if (!b) {
      snprintf(detail, sizeof(detail), "bit%d rule=reserved", bit);
      try_set(name, BIT(bit), GP_VECTOR, detail);
      continue;
    }
    int has = b->ngates ? gate_has(b) : 1;
    switch (b->kind) {
      case ALWAYS:
        snprintf(detail, sizeof(detail), "bit%d rule=always-allowed(KVM)", bit);
        try_set(name, BIT(bit), NO_EXCEPTION, detail);
        break;
      case GATED:
        snprintf(detail, sizeof(detail), "bit%d cpuid=%d(%s) rule=gated", bit, has, b->gate_name);
        try_set(name, BIT(bit), has ? NO_EXCEPTION : GP_VECTOR, detail);
        break;
      case RESERVED:
        snprintf(detail, sizeof(detail), "bit%d cpuid=%d(%s) rule=reserved(KVM)", bit, has, b->gate_name);
        try_set(name, BIT(bit), GP_VECTOR, detail);
        break;
      default:
        if (bit == 5) {
          int got = wrcr4_safe(0);
          if (got == NO_EXCEPTION) wrcr4_safe(base);
          expect_vector(name, GP_VECTOR, got, "bit5 clear rule=PAE-must-stay-set-in-long-mode");
        } else if (bit == 12) {
          snprintf(detail, sizeof(detail), "bit12 cpuid=%d(%s) rule=no-LA57-toggle-in-long-mode", has, b->gate_name);
          try_set(name, BIT(bit), GP_VECTOR, detail);
        }
        break;
    }
  }
  check_osxsave_mirror();
  check_ospke_mirror();
  check_pcide_cr3();
  check_cet_wp();
  wrcr4_safe(base);
}
