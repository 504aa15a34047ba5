/*
 * msr: a sample of MSR gating by CPUID (Intel SDM Vol. 4 "Model-Specific Registers"; KVM's rules:
 * kvm-contract.md §6). An MSR the guest CPUID doesn't enumerate raises #GP on RDMSR/WRMSR; values
 * with reserved bits raise #GP (PAT memory types, non-canonical bases); undefined MSRs raise #GP.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "msr";

static void exists(const char *name, u32 index, int expected_present, const char *why) {
  u64 v = 0;
  int got = rdmsr_safe(index, &v);
  expect_vector(name, expected_present ? NO_EXCEPTION : GP_VECTOR, got, "rdmsr(%#x) %s", index, why);
}

static void write_check(const char *name, u32 index, u64 value, int expected, const char *why) {
  u64 old = 0;
  int rd = rdmsr_safe(index, &old);
  int got = wrmsr_safe(index, value);
  u64 now = 0;
  char extra[80] = "";
  if (got == NO_EXCEPTION) {
    int r2 = rdmsr_safe(index, &now);
    if (r2 != NO_EXCEPTION) snprintf(extra, sizeof(extra), " readback=%s", vector_name(r2));
    else if (now != value) snprintf(extra, sizeof(extra), " readback=%#lx", now);
  }
  if (rd == NO_EXCEPTION) wrmsr_safe(index, old);
  int ok = got == expected && !extra[0];
  report(name, ok, "wrmsr(%#x,%#lx) %s expect=%s got=%s%s", index, value, why, vector_name(expected),
         vector_name(got), extra);
}

void run_tests(void) {
  char why[96];

  /* TSC_AUX exists iff RDTSCP or RDPID. */
  int rdtscp = cpuid_has(FEAT(0x80000001, 0, EDX, 27)), rdpid = cpuid_has(FEAT(7, 0, ECX, 22));
  snprintf(why, sizeof(why), "rdtscp=%d rdpid=%d rule=needs-RDTSCP-or-RDPID", rdtscp, rdpid);
  exists("msr.TSC_AUX.read", MSR_TSC_AUX, rdtscp || rdpid, why);
  write_check("msr.TSC_AUX.write", MSR_TSC_AUX, 0x5, rdtscp || rdpid ? NO_EXCEPTION : GP_VECTOR, why);

  /* IA32_XSS exists iff XSAVES; Intel PT state (bit 8) is never supported by KVM. */
  int xsaves = cpuid_has(FEAT(0xD, 1, EAX, 3));
  snprintf(why, sizeof(why), "xsaves=%d(0xD.1:EAX[3]) rule=needs-XSAVES", xsaves);
  exists("msr.XSS.read", MSR_IA32_XSS, xsaves, why);
  write_check("msr.XSS.write-pt", MSR_IA32_XSS, BIT(8), GP_VECTOR, "bit8(PT) rule=never-supported(KVM)");

  /* SPEC_CTRL exists iff the Intel SPEC_CTRL bit or one of AMD's IBRS/STIBP/SSBD bits. */
  int sc = cpuid_has(FEAT(7, 0, EDX, 26)), ibrs = cpuid_has(FEAT(0x80000008, 0, EBX, 14)),
      stibp = cpuid_has(FEAT(0x80000008, 0, EBX, 15)), ssbd = cpuid_has(FEAT(0x80000008, 0, EBX, 24));
  snprintf(why, sizeof(why), "spec_ctrl=%d amd_ibrs=%d amd_stibp=%d amd_ssbd=%d rule=needs-one", sc, ibrs, stibp, ssbd);
  exists("msr.SPEC_CTRL.read", MSR_IA32_SPEC_CTRL, sc || ibrs || stibp || ssbd, why);

  /* PAT: each byte must be a defined memory type (0, 1, 4, 5, 6, 7). */
  write_check("msr.PAT.valid", MSR_IA32_PAT, 0x0007040600070406ull, NO_EXCEPTION, "power-on-default");
  write_check("msr.PAT.valid-all-types", MSR_IA32_PAT, 0x0706050401000706ull, NO_EXCEPTION, "types-0,1,4,5,6,7");
  write_check("msr.PAT.type2", MSR_IA32_PAT, 0x0007040600070402ull, GP_VECTOR, "byte0=2 rule=reserved-type");
  write_check("msr.PAT.type3", MSR_IA32_PAT, 0x0007040600070306ull, GP_VECTOR, "byte1=3 rule=reserved-type");
  write_check("msr.PAT.type8", MSR_IA32_PAT, 0x0807040600070406ull, GP_VECTOR, "byte7=8 rule=reserved-type");

  exists("msr.EFER.read", MSR_EFER, 1, "rule=always");
  exists("msr.APIC_BASE.read", MSR_IA32_APICBASE, 1, "rule=always");

  exists("msr.undefined.read", 0x12345678u, 0, "rule=undefined-MSR");
  write_check("msr.undefined.write", 0x12345678u, 0, GP_VECTOR, "rule=undefined-MSR");

  write_check("msr.FS_BASE.canonical", MSR_FS_BASE, 0x00007fff12345000ull, NO_EXCEPTION, "rule=canonical-ok");
  write_check("msr.FS_BASE.noncanonical", MSR_FS_BASE, 0x8000000000000000ull, GP_VECTOR, "rule=non-canonical");
  write_check("msr.LSTAR.noncanonical", MSR_LSTAR, 0x8000000000000000ull, GP_VECTOR, "rule=non-canonical");

  /* x2APIC registers (0x800-0x8FF) are reachable only with IA32_APIC_BASE.EXTD=1. */
  u64 apic = 0;
  rdmsr_safe(MSR_IA32_APICBASE, &apic);
  if (apic & BIT(10))
    report_skip("msr.x2apic-id.xapic-mode", "APIC already in x2APIC mode (APIC_BASE=%#lx)", apic);
  else
    exists("msr.x2apic-id.xapic-mode", 0x802, 0, "APIC_BASE.EXTD=0 rule=x2APIC-MSRs-need-x2APIC-mode");
}
