/*
 * cpl3: instructions at CPL3 (Intel SDM Vol. 3A §5.9 "Privileged Instructions", §2.5 CR4.UMIP and
 * CR4.TSD; kvm-contract.md §8.9 UMIP). Privileged instructions raise #GP(0) at CPL3; with CR4.UMIP=1
 * SGDT/SIDT/SLDT/SMSW/STR raise #GP(0) at CPL>0 and work without it; RDTSC raises #GP at CPL3 with
 * CR4.TSD=1. Uses the library's ring-3 helper (run_user).
 */
#include "../guest/tsvmm.h"

const char program_name[] = "cpl3";

#define X86_CR4_TSD BIT(2)
#define X86_CR4_UMIP BIT(11)

static USER_CODE u64 u_add_one(u64 x) { return x + 1; }
static USER_CODE u64 u_sgdt(u64 x) {
  u8 buf[16];
  __asm__ volatile("sgdt %0" : "=m"(buf) : : "memory");
  return x;
}
static USER_CODE u64 u_sidt(u64 x) {
  u8 buf[16];
  __asm__ volatile("sidt %0" : "=m"(buf) : : "memory");
  return x;
}
static USER_CODE u64 u_sldt(u64 x) {
  u16 v;
  __asm__ volatile("sldt %0" : "=r"(v));
  return x + v;
}
static USER_CODE u64 u_smsw(u64 x) {
  u64 v;
  __asm__ volatile("smsw %0" : "=r"(v));
  return x + (v & 1);
}
static USER_CODE u64 u_str(u64 x) {
  u16 v;
  __asm__ volatile("str %0" : "=r"(v));
  return x + v;
}
static USER_CODE u64 u_rdmsr(u64 x) {
  u32 lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(0xC0000080u));
  return x + lo;
}
static USER_CODE u64 u_mov_cr4(u64 x) {
  u64 v;
  __asm__ volatile("mov %%cr4, %0" : "=r"(v));
  return x + v;
}
static USER_CODE u64 u_cli(u64 x) {
  __asm__ volatile("cli");
  return x;
}
static USER_CODE u64 u_out(u64 x) {
  __asm__ volatile("outb %%al, $0x80" : : "a"(0));
  return x;
}
static USER_CODE u64 u_xsetbv(u64 x) {
  __asm__ volatile(".byte 0x0f, 0x01, 0xd1" : : "c"(0), "a"(1), "d"(0));
  return x;
}
static USER_CODE u64 u_rdtsc(u64 x) {
  u32 lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return x + (lo & 0);
}

static void expect_user(const char *name, u64 (*fn)(u64), int expected, const char *detail) {
  u64 result = 0;
  int got = run_user(fn, 7, &result);
  expect_vector(name, expected, got, "%s", detail);
}

void run_tests(void) {
  u64 result = 0;
  int v = run_user(u_add_one, 41, &result);
  report("cpl3.return", v == NO_EXCEPTION && result == 42, "ran=%s result=%lu expect=42", vector_name(v), result);

  expect_user("cpl3.rdmsr", u_rdmsr, GP_VECTOR, "rule=privileged");
  expect_user("cpl3.mov-from-cr4", u_mov_cr4, GP_VECTOR, "rule=privileged");
  expect_user("cpl3.cli", u_cli, GP_VECTOR, "IOPL=0 rule=CPL>IOPL");
  expect_user("cpl3.out", u_out, GP_VECTOR, "IOPL=0 no-IO-bitmap rule=CPL>IOPL");

  u64 cr4 = read_cr4();
  if (cpuid_has(FEAT(1, 0, ECX, 26)) && wrcr4_safe(cr4 | X86_CR4_OSXSAVE) == NO_EXCEPTION) {
    expect_user("cpl3.xsetbv", u_xsetbv, GP_VECTOR, "CR4.OSXSAVE=1 rule=xsetbv.cpl");
    wrcr4_safe(cr4);
  } else {
    report_skip("cpl3.xsetbv", "no XSAVE rule=xsetbv.cpl");
  }

  wrcr4_safe(cr4 & ~X86_CR4_TSD);
  expect_user("cpl3.rdtsc.tsd0", u_rdtsc, NO_EXCEPTION, "CR4.TSD=0");
  wrcr4_safe(cr4 | X86_CR4_TSD);
  expect_user("cpl3.rdtsc.tsd1", u_rdtsc, GP_VECTOR, "CR4.TSD=1 rule=TSD");
  wrcr4_safe(cr4);

  static const struct {
    const char *name;
    u64 (*fn)(u64);
  } umip[] = {{"sgdt", u_sgdt}, {"sidt", u_sidt}, {"sldt", u_sldt}, {"smsw", u_smsw}, {"str", u_str}};
  char name[40];
  wrcr4_safe(cr4 & ~X86_CR4_UMIP);
  for (unsigned i = 0; i < sizeof(umip) / sizeof(umip[0]); i++) {
    snprintf(name, sizeof(name), "cpl3.umip0.%s", umip[i].name);
    expect_user(name, umip[i].fn, NO_EXCEPTION, "CR4.UMIP=0");
  }
  int has = cpuid_has(FEAT(7, 0, ECX, 2));
  int set = wrcr4_safe(cr4 | X86_CR4_UMIP);
  if (!has || set != NO_EXCEPTION) {
    report_skip("cpl3.umip1", "UMIP cpuid=%d set=%s", has, vector_name(set));
  } else {
    for (unsigned i = 0; i < sizeof(umip) / sizeof(umip[0]); i++) {
      snprintf(name, sizeof(name), "cpl3.umip1.%s", umip[i].name);
      expect_user(name, umip[i].fn, GP_VECTOR, "CR4.UMIP=1 rule=UMIP");
    }
  }
  wrcr4_safe(cr4);
}
