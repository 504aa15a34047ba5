/*
 * cpuid: the CPUID the guest sees (Intel SDM Vol. 2A CPUID; kvm-contract.md §1.5, §5). The runner
 * compares every program's TSVMM-CPUID lines with the policy it set; this program adds the leaves the
 * others don't print and the run-time rules: CPUID.1:ECX[27] OSXSAVE follows CR4.OSXSAVE,
 * CPUID.7.0:ECX[4] OSPKE follows CR4.PKE, CPUID.0DH.0:EBX follows XCR0, the hypervisor bit and the
 * KVM signature leaf are there, and the maximum leaves cover the leaves the policy fills.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "cpuid";

static void print_leaf(u32 l, u32 s) {
  struct cpuid_regs r = cpuid(l, s);
  printf("TSVMM-CPUID %#x %#x %#x %#x %#x %#x\n", l, s, r.eax, r.ebx, r.ecx, r.edx);
}

static void mirror(const char *name, u64 cr4bit, struct feature gate, struct feature os, const char *where) {
  if (!cpuid_has(gate)) {
    /* The OS bit must read 0 whatever CR4 says (the write is refused anyway). */
    report(name, !cpuid_has(os), "feature absent: %s=%d", where, cpuid_has(os));
    return;
  }
  u64 cr4 = read_cr4();
  int before = cpuid_has(os);
  int set = wrcr4_safe(cr4 | cr4bit);
  int during = cpuid_has(os);
  wrcr4_safe(cr4 & ~cr4bit);
  int after = cpuid_has(os);
  wrcr4_safe(cr4);
  report(name, set == NO_EXCEPTION && during && !after && before == ((cr4 & cr4bit) != 0),
         "%s before=%d set=%s on=%d off=%d rule=contract.os-bit", where, before, vector_name(set), during, after);
}

void run_tests(void) {
  print_leaf(0x40000000u, 0);
  print_leaf(0x40000001u, 0);
  struct cpuid_regs l0 = cpuid(0, 0);
  char vendor[13];
  memcpy(vendor, &l0.ebx, 4);
  memcpy(vendor + 4, &l0.edx, 4);
  memcpy(vendor + 8, &l0.ecx, 4);
  vendor[12] = 0;
  report("cpuid.max-basic", l0.eax >= 7, "max=%#x vendor=%s (leaf 7 is in every policy)", l0.eax, vendor);
  u32 maxext = cpuid_reg(0x80000000u, 0, EAX);
  report("cpuid.max-extended", maxext >= 0x80000008u, "max=%#x", maxext);
  report("cpuid.hypervisor", cpuid_has(FEAT(1, 0, ECX, 31)), "1:ECX[31]=%d", cpuid_has(FEAT(1, 0, ECX, 31)));
  struct cpuid_regs kvm = cpuid(0x40000000u, 0);
  report("cpuid.kvm-signature", kvm.ebx == 0x4b4d564bu && kvm.ecx == 0x564b4d56u && kvm.edx == 0x4d,
         "0x40000000 max=%#x sig=%#x,%#x,%#x", kvm.eax, kvm.ebx, kvm.ecx, kvm.edx);
  mirror("cpuid.OSXSAVE", X86_CR4_OSXSAVE, FEAT(1, 0, ECX, 26), FEAT(1, 0, ECX, 27), "1:ECX[27]");
  mirror("cpuid.OSPKE", X86_CR4_PKE, FEAT(7, 0, ECX, 3), FEAT(7, 0, ECX, 4), "7.0:ECX[4]");
  if (cpuid_has(FEAT(1, 0, ECX, 26))) {
    u64 cr4 = read_cr4();
    wrcr4_safe(cr4 | X86_CR4_OSXSAVE);
    u32 x87 = 0, all = 0;
    u64 supported = ((u64)cpuid_reg(0xD, 0, EDX) << 32) | cpuid_reg(0xD, 0, EAX);
    if (xsetbv_safe(0, 1) == NO_EXCEPTION) x87 = cpuid_reg(0xD, 0, EBX);
    int w = xsetbv_safe(0, supported & 0x7); /* x87|SSE|AVX as enumerated */
    if (w == NO_EXCEPTION) all = cpuid_reg(0xD, 0, EBX);
    xsetbv_safe(0, 1);
    wrcr4_safe(cr4);
    u32 want = 576 + ((supported & 4) ? 256 : 0);
    report("cpuid.xsave-size-tracks-xcr0", x87 == 576 && (w != NO_EXCEPTION || all == want),
           "XCR0=1:EBX=%u XCR0=%#lx:EBX=%u expect=%u rule=contract.xsave-size", x87, supported & 7, all, want);
  } else report_skip("cpuid.xsave-size-tracks-xcr0", "no XSAVE");
}
