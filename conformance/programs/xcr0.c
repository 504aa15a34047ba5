/*
 * xcr0: XSETBV/XGETBV rules (Intel SDM Vol. 1 §13.3 "Enabling the XSAVE Feature Set", Vol. 2C XSETBV;
 * KVM's __kvm_set_xcr: kvm-contract.md §4.1). #UD while CR4.OSXSAVE=0; #GP for ECX!=0, for x87 (bit 0)
 * clear, for AVX without SSE, for any bit outside CPUID.(EAX=0xD,ECX=0) EDX:EAX; valid values stick.
 * XGETBV is not in KVM's instruction emulator (seen as an emulation failure under PVM), so checks that
 * read XCR0 back are announced with TSVMM-TRY and can be skipped by the runner.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "xcr0";

static u64 supported;

static void roundtrip(const char *name, u64 value) {
  if (!try_check(name)) return;
  int w = xsetbv_safe(0, value);
  u64 got = 0;
  int r = xgetbv_safe(0, &got);
  report(name, w == NO_EXCEPTION && r == NO_EXCEPTION && got == value, "xsetbv(%#lx)=%s xgetbv=%s value=%#lx", value,
         vector_name(w), vector_name(r), got);
}

void run_tests(void) {
  u64 cr4 = read_cr4();
  int xsave = cpuid_has(FEAT(1, 0, ECX, 26));
  if (cr4 & X86_CR4_OSXSAVE) wrcr4_safe(cr4 & ~X86_CR4_OSXSAVE);

  expect_vector("xcr0.ud-without-osxsave", UD_VECTOR, xsetbv_safe(0, XFEATURE_X87), "CR4.OSXSAVE=0 xsave=%d", xsave);

  int r = wrcr4_safe((cr4 & ~X86_CR4_OSXSAVE) | X86_CR4_OSXSAVE);
  if (!xsave) {
    expect_vector("xcr0.osxsave-needs-xsave", GP_VECTOR, r, "cpuid-XSAVE=0(1:ECX[26])");
    report_skip("xcr0.rules", "no XSAVE in the guest CPUID");
    return;
  }
  if (!expect_vector("xcr0.enable-osxsave", NO_EXCEPTION, r, "cpuid-XSAVE=1")) return;

  supported = ((u64)cpuid_reg(0xD, 0, EDX) << 32) | cpuid_reg(0xD, 0, EAX);
  report("xcr0.supported-has-x87", (supported & XFEATURE_X87) != 0, "0xD.0 EDX:EAX=%#lx", supported);

  expect_vector("xcr0.x87-only", NO_EXCEPTION, xsetbv_safe(0, XFEATURE_X87), "value=0x1");
  expect_vector("xcr0.x87-required", GP_VECTOR, xsetbv_safe(0, 0), "value=0x0 rule=x87-must-be-set");
  expect_vector("xcr0.ecx-nonzero", GP_VECTOR, xsetbv_safe(1, XFEATURE_X87), "ecx=1 rule=only-XCR0-exists");
  if (supported & XFEATURE_AVX)
    expect_vector("xcr0.avx-needs-sse", GP_VECTOR, xsetbv_safe(0, XFEATURE_X87 | XFEATURE_AVX),
                  "value=0x5 rule=AVX-needs-SSE");
  else
    report_skip("xcr0.avx-needs-sse", "AVX not in 0xD.0:EAX");
  expect_vector("xcr0.all-supported", NO_EXCEPTION, xsetbv_safe(0, supported), "value=%#lx", supported);
  /* CPUID.(0xD,0):EBX is the XSAVE area size for the current XCR0 (KVM recomputes it). */
  u32 ebx_all = cpuid_reg(0xD, 0, EBX), ecx_max = cpuid_reg(0xD, 0, ECX);
  report("xcr0.cpuid-size-tracks-xcr0.all", ebx_all == ecx_max, "xcr0=%#lx 0xD.0:EBX=%u ECX=%u", supported, ebx_all,
         ecx_max);
  xsetbv_safe(0, XFEATURE_X87);
  u32 ebx_x87 = cpuid_reg(0xD, 0, EBX);
  report("xcr0.cpuid-size-tracks-xcr0.x87", ebx_x87 == 576, "xcr0=0x1 0xD.0:EBX=%u expect=576", ebx_x87);

  char name[40];
  for (int bit = 1; bit < 64; bit++) {
    if (supported & BIT(bit)) continue;
    snprintf(name, sizeof(name), "xcr0.bit%d", bit);
    expect_vector(name, GP_VECTOR, xsetbv_safe(0, XFEATURE_X87 | BIT(bit)), "bit%d not-in-0xD.0 rule=unsupported",
                  bit);
  }

  roundtrip("xcr0.roundtrip.x87", XFEATURE_X87);
  if (supported & XFEATURE_SSE) roundtrip("xcr0.roundtrip.x87-sse", XFEATURE_X87 | XFEATURE_SSE);
  roundtrip("xcr0.roundtrip.supported", supported);

  xsetbv_safe(0, XFEATURE_X87);
  wrcr4_safe(cr4 & ~X86_CR4_OSXSAVE);
  int d = xsetbv_safe(0, XFEATURE_X87);
  expect_vector("xcr0.ud-after-clearing-osxsave", UD_VECTOR, d, "CR4.OSXSAVE=0 again");
  wrcr4_safe(cr4);
}
