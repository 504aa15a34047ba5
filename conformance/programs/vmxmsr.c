/*
 * vmxmsr: the nested VMX capability MSRs as the guest reads them (Intel SDM Vol. 3D Appendix A,
 * Vol. 4 Table 2-2 480H-491H; kvm-contract.md §7). Without VMX in the guest CPUID (CPUID.1:ECX[5])
 * every one of IA32_VMX_BASIC..IA32_VMX_VMFUNC raises #GP on RDMSR. With VMX they read, refuse guest
 * WRMSR (read-only), and are consistent with the guest: CR4_FIXED1 allows CR4 bits only for features
 * the guest has, CR0_FIXED0/CR4_FIXED0 hold PE|NE|PG and VMXE, IA32_VMX_BASIC reports revision != 0.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "vmxmsr";

static const char *const names[18] = {
    "BASIC",      "PINBASED_CTLS", "PROCBASED_CTLS", "EXIT_CTLS", "ENTRY_CTLS", "MISC",
    "CR0_FIXED0", "CR0_FIXED1",    "CR4_FIXED0",     "CR4_FIXED1", "VMCS_ENUM", "PROCBASED_CTLS2",
    "EPT_VPID_CAP", "TRUE_PINBASED_CTLS", "TRUE_PROCBASED_CTLS", "TRUE_EXIT_CTLS", "TRUE_ENTRY_CTLS",
    "VMFUNC"};

void run_tests(void) {
  int vmx = cpuid_has(FEAT(1, 0, ECX, 5));
  u64 val[18] = {0};
  int got[18];
  for (int i = 0; i < 18; i++) {
    char name[48];
    snprintf(name, sizeof(name), "msr.IA32_VMX_BASIC_IA32_VMX_VMFUNC.%s", names[i]);
    got[i] = rdmsr_safe(0x480 + i, &val[i]);
    if (vmx) {
      /* Which of the optional ones exist depends on the derived controls: observe, the contract judges. */
      report(name, 1, "rdmsr(%#x) vmx=1 value=%#lx expect=contract got=%s", 0x480 + i, val[i], vector_name(got[i]));
    } else {
      expect_vector(name, GP_VECTOR, got[i], "rdmsr(%#x) vmx=0 rule=msr.absent", 0x480 + i);
    }
  }
  if (!vmx) {
    report_skip("vmx.read-only", "no VMX in the guest CPUID rule=msr.vmx-read-only");
    report_skip("vmx.cr4-fixed1", "no VMX in the guest CPUID");
    return;
  }
  int w = wrmsr_safe(0x480, val[0]);
  expect_vector("vmx.read-only", GP_VECTOR, w, "wrmsr(0x480,%#lx) rule=msr.vmx-read-only", val[0]);
  report("vmx.basic-revision", got[0] == NO_EXCEPTION && (val[0] & 0x7fffffff) != 0, "IA32_VMX_BASIC=%#lx", val[0]);
  if (got[6] == NO_EXCEPTION)
    report("vmx.cr0-fixed0", (val[6] & 0x80000021ull) == 0x80000021ull || (val[6] & 0x20) == 0x20,
           "CR0_FIXED0=%#lx (PE|NE|PG, or NE with unrestricted guest)", val[6]);
  if (got[8] == NO_EXCEPTION) report("vmx.cr4-fixed0", (val[8] & BIT(13)) != 0, "CR4_FIXED0=%#lx has VMXE", val[8]);
  if (got[9] == NO_EXCEPTION) {
    /* CR4_FIXED1 may only allow a feature-gated bit when the guest has the feature */
    struct { u8 bit; struct feature f; } g[] = {{11, FEAT(7, 0, ECX, 2)}, {16, FEAT(7, 0, EBX, 0)}, {17, FEAT(1, 0, ECX, 17)},
                                             {18, FEAT(1, 0, ECX, 26)}, {20, FEAT(7, 0, EBX, 7)}, {21, FEAT(7, 0, EBX, 20)},
                                             {22, FEAT(7, 0, ECX, 3)}, {12, FEAT(7, 0, ECX, 16)}};
    int ok = 1;
    for (unsigned i = 0; i < sizeof(g) / sizeof(g[0]); i++)
      if (((val[9] >> g[i].bit) & 1) && !cpuid_has(g[i].f)) ok = 0;
    report("vmx.cr4-fixed1", ok, "CR4_FIXED1=%#lx only has bits whose features the guest has", val[9]);
  }
}
