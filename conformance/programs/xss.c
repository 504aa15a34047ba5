/*
 * xss: IA32_XSS (MSR 0xDA0) and the XSAVE-family instructions' gating (Intel SDM Vol. 1 §13.3-13.12,
 * Vol. 2 XSAVEC/XSAVES/XSAVEOPT/XRSTORS, Vol. 4 IA32_XSS; kvm-contract.md §4.2). IA32_XSS exists only
 * with XSAVES (CPUID.(EAX=0DH,ECX=1):EAX[3]); a bit is writable iff CPUID.(EAX=0DH,ECX=1):EDX:ECX
 * enumerates it and (under KVM) it is in KVM_SUPPORTED_XSS (CET_U/CET_S, with SHSTK or IBT). The rows
 * come from the contract's XSS table through contract-tables.h. XSAVEOPT/XSAVEC/XSAVES raise #UD
 * without their CPUID bit or with CR4.OSXSAVE=0.
 */
#include "../guest/tsvmm.h"
#include "../guest/contract-tables.h"

const char program_name[] = "xss";

#define MSR_XSS 0xDA0u
static u8 area[4096] __attribute__((aligned(64)));

static int xsaves_has(void) { return cpuid_has(FEAT(0xD, 1, EAX, 3)); }

static void xss_msr(void) {
  u64 v = 0;
  int has = xsaves_has();
  if (!has) {
    expect_vector("xss.read", GP_VECTOR, rdmsr_safe(MSR_XSS, &v), "rdmsr(0xda0) xsaves=0 rule=xss.no-xsaves");
    expect_vector("xss.write0", GP_VECTOR, wrmsr_safe(MSR_XSS, 0), "wrmsr(0xda0,0x0) xsaves=0 rule=xss.no-xsaves");
    for (unsigned i = 0; i < CT_XSS_NBITS; i++) {
      char name[32];
      snprintf(name, sizeof(name), "xss.%s", ct_xss_bits[i].name);
      expect_vector(name, GP_VECTOR, wrmsr_safe(MSR_XSS, BIT(ct_xss_bits[i].bit)), "wrmsr(0xda0,%#llx) xsaves=0 rule=xss.no-xsaves",
                    BIT(ct_xss_bits[i].bit));
    }
    report_skip("xss.bit40", "no XSAVES: the per-bit rule can't be reached rule=xss.unsupported");
    return;
  }
  expect_vector("xss.read", NO_EXCEPTION, rdmsr_safe(MSR_XSS, &v), "rdmsr(0xda0) xsaves=1");
  expect_vector("xss.write0", NO_EXCEPTION, wrmsr_safe(MSR_XSS, 0), "wrmsr(0xda0,0x0) xsaves=1");
  u64 enumerated = ((u64)cpuid_reg(0xD, 1, EDX) << 32) | cpuid_reg(0xD, 1, ECX);
  for (unsigned i = 0; i < CT_XSS_NBITS; i++) {
    const struct ct_bit *b = &ct_xss_bits[i];
    char name[32];
    snprintf(name, sizeof(name), "xss.%s", b->name);
    int en = (enumerated >> b->bit) & 1;
    int gate = ct_any(b->gate, b->ngates);
    int ok = arch_mode() ? en : en && b->flag && gate;
    int got = wrmsr_safe(MSR_XSS, BIT(b->bit));
    wrmsr_safe(MSR_XSS, 0);
    expect_vector(name, ok ? NO_EXCEPTION : GP_VECTOR, got, "wrmsr(0xda0,%#llx) enumerated=%d kvm-supported=%d gate=%d%s",
                  BIT(b->bit), en, b->flag, gate, ok ? "" : " rule=xss.unsupported");
  }
  int got = wrmsr_safe(MSR_XSS, BIT(40));
  wrmsr_safe(MSR_XSS, 0);
  expect_vector("xss.bit40", GP_VECTOR, got, "wrmsr(0xda0,%#llx) rule=xss.unsupported", BIT(40));
}

static int do_xsaveopt(void) {
  ex_arm();
  __asm__ volatile(ASM_TRY("xsaveopt (%0)") : : "r"(area), "a"(1), "d"(0) : "memory");
  return ex_result();
}
static int do_xsavec(void) {
  ex_arm();
  __asm__ volatile(ASM_TRY("xsavec (%0)") : : "r"(area), "a"(1), "d"(0) : "memory");
  return ex_result();
}
static int do_xsaves(void) {
  ex_arm();
  __asm__ volatile(ASM_TRY("xsaves (%0)") : : "r"(area), "a"(1), "d"(0) : "memory");
  return ex_result();
}

static void insn(const char *name, int (*fn)(void), struct feature f, const char *where, int osxsave) {
  char n[48];
  snprintf(n, sizeof(n), "%s.osxsave%d", name, osxsave);
  if (!try_check(n)) return;
  memset(area, 0, sizeof(area));
  int has = cpuid_has(f);
  int got = fn();
  expect_vector(n, has && osxsave ? NO_EXCEPTION : UD_VECTOR, got, "cpuid=%d(%s) CR4.OSXSAVE=%d", has, where, osxsave);
}

void run_tests(void) {
  xss_msr();
  if (!cpuid_has(FEAT(1, 0, ECX, 26))) {
    report_skip("xsave.instructions", "no XSAVE: CR4.OSXSAVE can't be set");
    return;
  }
  u64 cr4 = read_cr4();
  /* OSXSAVE=0: every XSAVE-family instruction is #UD */
  insn("xsaveopt", do_xsaveopt, FEAT(0xD, 1, EAX, 0), "0xD.1:EAX[0]", 0);
  insn("xsavec", do_xsavec, FEAT(0xD, 1, EAX, 1), "0xD.1:EAX[1]", 0);
  insn("xsaves", do_xsaves, FEAT(0xD, 1, EAX, 3), "0xD.1:EAX[3]", 0);
  if (wrcr4_safe(cr4 | X86_CR4_OSXSAVE) != NO_EXCEPTION) {
    report("xsave.osxsave", 0, "setting CR4.OSXSAVE faulted with XSAVE in CPUID");
    return;
  }
  insn("xsaveopt", do_xsaveopt, FEAT(0xD, 1, EAX, 0), "0xD.1:EAX[0]", 1);
  insn("xsavec", do_xsavec, FEAT(0xD, 1, EAX, 1), "0xD.1:EAX[1]", 1);
  insn("xsaves", do_xsaves, FEAT(0xD, 1, EAX, 3), "0xD.1:EAX[3]", 1);
  wrcr4_safe(cr4);
}
