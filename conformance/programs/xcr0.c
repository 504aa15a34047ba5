/*
 * xcr0: XSETBV/XGETBV rules (Intel SDM Vol. 1 §13.3 "Enabling the XSAVE Feature Set", Vol. 2C XSETBV;
 * KVM's __kvm_set_xcr: kvm-contract.md §4.1). #UD while CR4.OSXSAVE=0; #GP for ECX!=0, for x87 (bit 0)
 * clear, for AVX without SSE, for any bit outside CPUID.(EAX=0xD,ECX=0) EDX:EAX; valid values stick.
 * XGETBV is not in KVM's instruction emulator (seen as an emulation failure under PVM), so checks that
 * read XCR0 back are announced with TSVMM-TRY and can be skipped by the runner.
 */
#include "../guest/tsvmm.h"
#include "../guest/contract-tables.h"

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

/* The XCR0 rows come from the contract's table (src/arch/x86/registers/xcr0.ts) via contract-tables.h. */
static const struct ct_bit *row_at(int bit) {
  for (unsigned i = 0; i < CT_XCR0_NBITS; i++)
    if (ct_xcr0_bits[i].bit == bit) return &ct_xcr0_bits[i];
  return 0;
}

/* The components a component needs beside itself (SDM Vol. 1 §13.3: AVX needs SSE; AVX-512 state is
 * all three of OPMASK/ZMM_Hi256/Hi16_ZMM plus AVX; MPX and AMX come in pairs). */
static u64 companions(int bit) {
  switch (bit) {
    case 2: return BIT(1);
    case 3: case 4: return BIT(3) | BIT(4);
    case 5: case 6: case 7: return BIT(1) | BIT(2) | BIT(5) | BIT(6) | BIT(7);
    case 17: case 18: return BIT(17) | BIT(18);
    default: return 0;
  }
}

static void table_rows(u64 supported) {
  for (unsigned i = 0; i < CT_XCR0_NBITS; i++) {
    const struct ct_bit *b = &ct_xcr0_bits[i];
    if (b->bit == 0) continue; /* X87: xcr0.x87-only / xcr0.x87-required */
    u64 value = XFEATURE_X87 | BIT(b->bit) | companions(b->bit);
    int ok = (value & ~supported) == 0;
    if (ok && !arch_mode())
      for (int j = 1; j < 64; j++)
        if ((value >> j) & 1) {
          const struct ct_bit *r = row_at(j);
          if (!r || !r->flag) ok = 0; /* outside KVM_SUPPORTED_XCR0 */
        }
    char name[40];
    snprintf(name, sizeof(name), "xcr0.%s", b->name);
    int got = xsetbv_safe(0, value);
    xsetbv_safe(0, XFEATURE_X87);
    expect_vector(name, ok ? NO_EXCEPTION : GP_VECTOR, got, "value=%#lx enumerated=%d kvm=%d gate=%s%s", value,
                  (value & ~supported) == 0, b->flag, b->gate_text, ok ? "" : " rule=xcr0.unsupported");
  }
}

/* The pair rules, where CPUID enumerates the components (else SKIP, naming the rule). */
static void pair_rules(u64 supported) {
  const u64 sse_avx = XFEATURE_X87 | BIT(1) | BIT(2);
  if ((supported & (BIT(3) | BIT(4))) == (BIT(3) | BIT(4)))
    expect_vector("xcr0.mpx-pair", GP_VECTOR, xsetbv_safe(0, XFEATURE_X87 | BIT(3)), "value=%#lx rule=xcr0.mpx-pair", XFEATURE_X87 | BIT(3));
  else report_skip("xcr0.mpx-pair", "MPX state not enumerated rule=xcr0.mpx-pair");
  if ((supported & 0xE6) == 0xE6) {
    expect_vector("xcr0.avx512-partial", GP_VECTOR, xsetbv_safe(0, sse_avx | BIT(5)), "value=%#lx rule=xcr0.avx512-partial", sse_avx | BIT(5));
    expect_vector("xcr0.avx512-without-avx", GP_VECTOR, xsetbv_safe(0, XFEATURE_X87 | BIT(1) | 0xE0),
                  "value=%#llx rule=xcr0.avx512-without-avx", XFEATURE_X87 | BIT(1) | 0xE0);
  } else {
    report_skip("xcr0.avx512-partial", "AVX-512 state not enumerated rule=xcr0.avx512-partial");
    report_skip("xcr0.avx512-without-avx", "AVX-512 state not enumerated rule=xcr0.avx512-without-avx");
  }
  if ((supported & (BIT(17) | BIT(18))) == (BIT(17) | BIT(18)))
    expect_vector("xcr0.amx-pair", GP_VECTOR, xsetbv_safe(0, XFEATURE_X87 | BIT(17)), "value=%#lx rule=xcr0.amx-pair", XFEATURE_X87 | BIT(17));
  else report_skip("xcr0.amx-pair", "AMX state not enumerated rule=xcr0.amx-pair");
  xsetbv_safe(0, XFEATURE_X87);
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

  expect_vector("xcr0.X87.only", NO_EXCEPTION, xsetbv_safe(0, XFEATURE_X87), "value=0x1");
  expect_vector("xcr0.X87.required", GP_VECTOR, xsetbv_safe(0, 0), "value=0x0 rule=xcr0.x87");
  expect_vector("xcr0.ecx-nonzero", GP_VECTOR, xsetbv_safe(1, XFEATURE_X87), "ecx=1 rule=xsetbv.index");
  if (supported & XFEATURE_AVX)
    expect_vector("xcr0.avx-needs-sse", GP_VECTOR, xsetbv_safe(0, XFEATURE_X87 | XFEATURE_AVX),
                  "value=0x5 rule=xcr0.avx-without-sse");
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

  table_rows(supported);
  pair_rules(supported);

  char name[40];
  for (int bit = 1; bit < 64; bit++) {
    if (supported & BIT(bit)) continue;
    if (row_at(bit)) continue; /* named rows: table_rows */
    snprintf(name, sizeof(name), "xcr0.bit%d", bit);
    expect_vector(name, GP_VECTOR, xsetbv_safe(0, XFEATURE_X87 | BIT(bit)), "bit%d not-in-0xD.0 rule=xcr0.unsupported",
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
