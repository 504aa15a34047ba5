/*
 * msrgate: every MSR in the contract's MSR table (src/arch/x86/msr/table.ts, Intel SDM Vol. 4 Table 2-2,
 * AMD APM Vol. 2 App. A; kvm-contract.md §6), through the generated contract-tables.h: RDMSR succeeds
 * iff the MSR exists for this guest (its CPUID gate, KVM PV gate, vendor and mode) and is readable;
 * otherwise #GP. Read-only MSRs refuse WRMSR of their own value. Plus: an MSR outside the table #GPs,
 * reserved bits (MTRR_DEF_TYPE) #GP, and the IA32_APIC_BASE and IA32_FEATURE_CONTROL value rules.
 */
#include "../guest/tsvmm.h"
#include "../guest/contract-tables.h"

const char program_name[] = "msrgate";

static int amd_like(void) {
  u32 b = cpuid_reg(0, 0, EBX);
  return b == 0x68747541u /* Auth */ || b == 0x6f677948u /* Hygo */;
}

/* CPUID.(KVM base + 1):EAX bit, the KVM signature searched as KVM does (0x40000000 + n*0x100). */
static int pv_has(int bit) {
  for (u32 base = 0x40000000u; base < 0x40010000u; base += 0x100) {
    struct cpuid_regs r = cpuid(base, 0);
    if (r.ebx == 0x4b4d564bu && r.ecx == 0x564b4d56u && r.edx == 0x4d) return (cpuid(base + 1, 0).eax >> bit) & 1;
  }
  return 0;
}

/* Why the MSR is absent for this guest, or 0 when it exists. */
static const char *absent_why(const struct ct_msr *m) {
  if ((m->flags & CT_MSR_ABSENT_KVM) && !arch_mode()) return "never-under-KVM";
  if (!ct_any(m->gate, m->ngates)) return "cpuid-gate";
  if (m->pv_gate >= 0 && !pv_has(m->pv_gate)) return "pv-gate";
  if ((m->flags & CT_MSR_NOT_AMD) && amd_like()) return "not-on-AMD";
  return 0;
}

static void check_row(const struct ct_msr *m) {
  char name[64];
  const char *why = absent_why(m);
  int host_only = (m->flags & CT_MSR_HOST_ONLY) != 0, wo = (m->flags & CT_MSR_WO) != 0;
  int readable = !why && !host_only && !wo;
  const char *rule = why ? "msr.absent" : host_only ? "msr.host-only" : wo ? "msr.write-only" : "";
  snprintf(name, sizeof(name), "msr.%s.read", m->name);
  u64 v = 0;
  int got = rdmsr_safe(m->index, &v);
  if ((m->flags & CT_MSR_CONTRACT) && !why) {
    /* existence depends on state the guest can't see in CPUID: the runner judges with the contract */
    report(name, 1, "rdmsr(%#x) gate=%s decided-by-contract expect=contract got=%s", m->index,
           m->gate_text[0] ? m->gate_text : "none", vector_name(got));
    return;
  }
  expect_vector(name, readable ? NO_EXCEPTION : GP_VECTOR, got, "rdmsr(%#x) gate=%s pv=%d%s%s%s%s", m->index,
                m->gate_text[0] ? m->gate_text : "none", m->pv_gate, why ? " absent=" : "", why ? why : "",
                rule[0] ? " rule=" : "", rule);
  if ((m->flags & CT_MSR_RO) && readable && got == NO_EXCEPTION) {
    snprintf(name, sizeof(name), "msr.%s.write", m->name);
    int w = wrmsr_safe(m->index, v);
    expect_vector(name, GP_VECTOR, w, "wrmsr(%#x,%#lx) rule=msr.read-only", m->index, v);
  }
}

static void apic_base_rules(void) {
  u64 apic = 0;
  if (rdmsr_safe(0x1b, &apic) != NO_EXCEPTION) {
    report("msr.apic-base.read", 0, "rdmsr(0x1b) faulted");
    return;
  }
  int x2 = cpuid_has(FEAT(1, 0, ECX, 21));
  /* bits 7:0 are reserved */
  int got = wrmsr_safe(0x1b, apic | 0x1);
  if (got == NO_EXCEPTION) wrmsr_safe(0x1b, apic);
  expect_vector("msr.apic-base.reserved", GP_VECTOR, got, "wrmsr(0x1b,%#lx) rule=apic-base.reserved", apic | 0x1);
  /* EXTD=1 with EN=0 is an invalid mode */
  u64 bad = (apic & ~BIT(11)) | BIT(10);
  got = wrmsr_safe(0x1b, bad);
  if (got == NO_EXCEPTION) wrmsr_safe(0x1b, apic);
  expect_vector("msr.apic-base.invalid-mode", GP_VECTOR, got, "wrmsr(0x1b,%#lx) x2apic=%d rule=%s", bad, x2,
                x2 ? "apic-base.invalid-mode" : "apic-base.reserved");
  if (!x2) {
    report_skip("msr.apic-base.x2apic-to-xapic", "no x2APIC in CPUID rule=apic-base.x2apic-to-xapic");
    report_skip("msr.apic-base.disabled-to-x2apic", "no x2APIC in CPUID rule=apic-base.disabled-to-x2apic");
    return;
  }
  /* xAPIC → x2APIC is legal; x2APIC → xAPIC (EN=1, EXTD=0) is not. */
  u64 x2mode = apic | BIT(10) | BIT(11);
  int up = wrmsr_safe(0x1b, x2mode);
  int down = up == NO_EXCEPTION ? wrmsr_safe(0x1b, apic) : up;
  if (down == NO_EXCEPTION || up != NO_EXCEPTION) {
    /* nothing to undo */
  } else {
    wrmsr_safe(0x1b, apic & ~(BIT(10) | BIT(11))); /* x2APIC → disabled is legal, then → xAPIC */
    wrmsr_safe(0x1b, apic);
  }
  report("msr.apic-base.x2apic-to-xapic", up == NO_EXCEPTION && down == GP_VECTOR,
         "to-x2apic=%s back-to-xapic=%s rule=apic-base.x2apic-to-xapic expect=#GP got=%s", vector_name(up),
         vector_name(down), vector_name(down));
  /* disabled → x2APIC directly is not legal */
  int dis = wrmsr_safe(0x1b, apic & ~(BIT(10) | BIT(11)));
  int jump = dis == NO_EXCEPTION ? wrmsr_safe(0x1b, x2mode) : dis;
  if (jump == NO_EXCEPTION) wrmsr_safe(0x1b, apic & ~(BIT(10) | BIT(11)));
  wrmsr_safe(0x1b, apic);
  report("msr.apic-base.disabled-to-x2apic", dis == NO_EXCEPTION && jump == GP_VECTOR,
         "disable=%s then-x2apic=%s rule=apic-base.disabled-to-x2apic expect=#GP got=%s", vector_name(dis),
         vector_name(jump), vector_name(jump));
}

static void feature_control_rules(void) {
  if (amd_like()) {
    report_skip("msr.feat-ctl.locked", "AMD-compatible guest: no IA32_FEATURE_CONTROL rule=feat-ctl.locked");
    report_skip("msr.feat-ctl.reserved", "AMD-compatible guest: no IA32_FEATURE_CONTROL rule=feat-ctl.reserved");
    return;
  }
  u64 v = 0;
  if (rdmsr_safe(0x3a, &v) != NO_EXCEPTION) {
    report("msr.feat-ctl.read", 0, "rdmsr(0x3a) faulted on an Intel guest");
    return;
  }
  int got = wrmsr_safe(0x3a, v | BIT(63));
  expect_vector("msr.feat-ctl.reserved", GP_VECTOR, got, "wrmsr(0x3a,%#lx) rule=feat-ctl.reserved", v | BIT(63));
  if (v & 1) {
    got = wrmsr_safe(0x3a, v);
    expect_vector("msr.feat-ctl.locked", GP_VECTOR, got, "wrmsr(0x3a,%#lx) locked rule=feat-ctl.locked", v);
  } else report_skip("msr.feat-ctl.locked", "IA32_FEATURE_CONTROL is not locked (%#lx) rule=feat-ctl.locked", v);
}

void run_tests(void) {
  for (unsigned i = 0; i < CT_NMSRS; i++) {
    const struct ct_msr *m = &ct_msrs[i];
    if (m->flags & CT_MSR_X2APIC) {
      /* The x2APIC range exists only in x2APIC mode: in xAPIC mode (the state here) RDMSR #GPs. */
      u64 v = 0, apic = 0;
      rdmsr_safe(0x1b, &apic);
      if (apic & BIT(10)) {
        report_skip("msr.x2APIC_registers.xapic-mode", "APIC already in x2APIC mode");
        continue;
      }
      expect_vector("msr.x2APIC_registers.xapic-mode", GP_VECTOR, rdmsr_safe(0x802, &v), "rdmsr-x2apic-id EXTD=0");
      continue;
    }
    check_row(m);
  }
  u64 v;
  expect_vector("msr.unknown.read", GP_VECTOR, rdmsr_safe(0x4b564dffu, &v), "rdmsr(0x4b564dff) rule=msr.unknown");
  if (cpuid_has(FEAT(1, 0, EDX, 12))) {
    u64 def = 0;
    rdmsr_safe(0x2ff, &def);
    int got = wrmsr_safe(0x2ff, def | BIT(20));
    if (got == NO_EXCEPTION) wrmsr_safe(0x2ff, def);
    expect_vector("msr.IA32_MTRR_DEF_TYPE.reserved", GP_VECTOR, got, "wrmsr(0x2ff,%#lx) rule=msr.reserved", def | BIT(20));
  } else report_skip("msr.IA32_MTRR_DEF_TYPE.reserved", "no MTRR rule=msr.reserved");
  u64 misc = 0;
  if (rdmsr_safe(0x1a0, &misc) == NO_EXCEPTION) {
    int got = wrmsr_safe(0x1a0, misc ^ BIT(11));
    if (got == NO_EXCEPTION) wrmsr_safe(0x1a0, misc);
    expect_vector("msr.IA32_MISC_ENABLE.read-only-bits", GP_VECTOR, got, "wrmsr(0x1a0,%#lx) was=%#lx rule=misc-enable.read-only",
                  misc ^ BIT(11), misc);
  } else report_skip("msr.IA32_MISC_ENABLE.read-only-bits", "IA32_MISC_ENABLE not readable rule=misc-enable.read-only");
  /* MSR_KVM_ASYNC_PF_INT accepts no write without an in-kernel local APIC (the VMM's choice, which the
   * guest can't see): the runner judges it with the contract and the VM's configuration. */
  if (pv_has(14)) {
    int got = wrmsr_safe(0x4b564d06u, 0);
    report("msr.MSR_KVM_ASYNC_PF_INT.write", 1, "wrmsr(0x4b564d06,0x0) pv=14 expect=contract got=%s", vector_name(got));
  } else report_skip("msr.MSR_KVM_ASYNC_PF_INT.write", "no KVM PV ASYNC_PF_INT (bit 14) rule=msr.needs-lapic");
  apic_base_rules();
  feature_control_rules();
}
