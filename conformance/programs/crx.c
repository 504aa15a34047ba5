/*
 * crx: the other control and debug registers' value rules (Intel SDM Vol. 3A §2.5 CR3/CR8, §4.5
 * (CR3 with PCIDE), §17.2.3-17.2.4 DR6/DR7; kvm-contract.md §1.3, §2 "CR3", "CR8"; KVM's kvm_set_cr3,
 * kvm_set_cr8, kvm_set_dr). CR3 bits at or above MAXPHYADDR raise #GP (LAM's bits 61/62 too without
 * LAM); CR8 bits 63:4 raise #GP; DR6 and DR7 bits 63:32 raise #GP.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "crx";

static void cr3_checks(void) {
  u64 cr3 = read_cr3();
  u32 maxphy = cpuid_reg(0x80000000u, 0, EAX) >= 0x80000008u ? (cpuid_reg(0x80000008u, 0, EAX) & 0xff) : 36;
  report("cr3.base", 1, "cr3=%#lx maxphyaddr=%u", cr3, maxphy);
  /* Same value: always legal. */
  expect_vector("cr3.same", NO_EXCEPTION, wrcr3_safe(cr3), "cr3=%#lx", cr3);
  /* A bit at MAXPHYADDR (reserved GPA bits). */
  if (maxphy < 52) {
    u64 v = cr3 | BIT(maxphy);
    int got = wrcr3_safe(v);
    if (got == NO_EXCEPTION) wrcr3_safe(cr3);
    expect_vector("cr3.maxphyaddr", GP_VECTOR, got, "cr3=%#lx bit%u rule=cr3.reserved", v, maxphy);
  } else report_skip("cr3.maxphyaddr", "MAXPHYADDR=52: no reserved GPA bit below 52 rule=cr3.reserved");
  /* LAM_U57/LAM_U48 (bits 61, 62) need LAM (CPUID.(EAX=7,ECX=1):EAX[26]). */
  int lam = cpuid_has(FEAT(7, 1, EAX, 26));
  for (int bit = 61; bit <= 62; bit++) {
    char name[32];
    snprintf(name, sizeof(name), "cr3.bit%d", bit);
    int got = wrcr3_safe(cr3 | BIT(bit));
    if (got == NO_EXCEPTION) wrcr3_safe(cr3);
    expect_vector(name, lam ? NO_EXCEPTION : GP_VECTOR, got, "cr3=%#lx lam=%d rule=cr3.lam", cr3 | BIT(bit), lam);
  }
}

static void cr8_checks(void) {
  if (!try_check("cr8.value")) return;
  u64 before = read_cr8();
  int ok = mov_to_cr8_safe(0xf);
  u64 now = read_cr8();
  mov_to_cr8_safe(before);
  report("cr8.value", ok == NO_EXCEPTION && now == 0xf, "cr8=0xf set=%s readback=%#lx", vector_name(ok), now);
  if (!try_check("cr8.reserved")) return;
  int got = mov_to_cr8_safe(0x10);
  mov_to_cr8_safe(before);
  expect_vector("cr8.reserved", GP_VECTOR, got, "cr8=0x10 rule=cr8.reserved");
}

static void dr_checks(void) {
  if (!try_check("dr7.base")) return;
  u64 dr7 = read_dr7();
  int r = wrdr7_safe(0x400);
  report("dr7.base", r == NO_EXCEPTION, "dr7=%#lx write(0x400)=%s", dr7, vector_name(r));
  if (!try_check("dr7.high")) return;
  int got = wrdr7_safe(0x400 | BIT(32));
  wrdr7_safe(0x400);
  expect_vector("dr7.high", GP_VECTOR, got, "dr7=%#lx rule=dr7.high-reserved", 0x400 | BIT(32));
  if (!try_check("dr6.high")) return;
  u64 dr6 = read_dr6();
  got = wrdr6_safe(0xffff0ff0ull | BIT(40));
  wrdr6_safe(0xffff0ff0ull);
  expect_vector("dr6.high", GP_VECTOR, got, "dr6=%#lx was=%#lx rule=dr6.high-reserved", 0xffff0ff0ull | BIT(40), dr6);
}

void run_tests(void) {
  cr3_checks();
  cr8_checks();
  dr_checks();
}
