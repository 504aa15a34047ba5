/*
 * efer: WRMSR to IA32_EFER (0xC0000080) bit by bit in 64-bit mode with paging on (Intel SDM Vol. 3A
 * §2.2.1 and Vol. 4 Table 2-2; AMD APM Vol. 2 §3.1.7; KVM's rules: kvm-contract.md §3). SCE is always
 * writable under KVM (the manuals gate it on SYSCALL); LME can't change while CR0.PG=1; LMA writes are
 * ignored; NXE/SVME/FFXSR/AUTOIBRS need their CPUID bits; LMSLE, TCE and every other bit are reserved.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "efer";

static u64 base;

static int write_and_check(const char *name, u64 value, int expected, u64 expect_readback, const char *detail) {
  int got = wrmsr_safe(MSR_EFER, value);
  u64 now = 0;
  int rd = rdmsr_safe(MSR_EFER, &now);
  int restore = wrmsr_safe(MSR_EFER, base);
  char extra[96] = "";
  if (rd != NO_EXCEPTION) snprintf(extra, sizeof(extra), " rdmsr=%s", vector_name(rd));
  else if (got == NO_EXCEPTION && now != expect_readback) snprintf(extra, sizeof(extra), " readback=%#lx", now);
  else if (got != NO_EXCEPTION && now != base) snprintf(extra, sizeof(extra), " fault-but-EFER=%#lx", now);
  else if (restore != NO_EXCEPTION) snprintf(extra, sizeof(extra), " restore=%s", vector_name(restore));
  int ok = got == expected && !extra[0];
  report(name, ok, "%s expect=%s got=%s%s", detail, vector_name(expected), vector_name(got), extra);
  return ok;
}

static void gated(const char *name, int bit, struct feature f, const char *where) {
  char detail[96];
  int has = cpuid_has(f);
  snprintf(detail, sizeof(detail), "bit%d cpuid=%d(%s) rule=gated", bit, has, where);
  write_and_check(name, base | BIT(bit), has ? NO_EXCEPTION : GP_VECTOR, base | BIT(bit), detail);
}

void run_tests(void) {
  u64 orig = 0;
  int r = rdmsr_safe(MSR_EFER, &orig);
  base = EFER_LME | EFER_LMA;
  int w = r == NO_EXCEPTION ? wrmsr_safe(MSR_EFER, base) : r;
  report("efer.base", r == NO_EXCEPTION && w == NO_EXCEPTION, "orig=%#lx base=%#lx rdmsr=%s wrmsr=%s", orig, base,
         vector_name(r), vector_name(w));
  if (r != NO_EXCEPTION || w != NO_EXCEPTION) return;

  char detail[128];
  int syscall = cpuid_has(FEAT(0x80000001, 0, EDX, 11));
  snprintf(detail, sizeof(detail),
           "bit0 cpuid-SYSCALL=%d(0x80000001:EDX[11]) rule=always-allowed(KVM; the manuals gate SCE on SYSCALL)",
           syscall);
  write_and_check("efer.SCE", base | EFER_SCE, NO_EXCEPTION, base | EFER_SCE, detail);

  write_and_check("efer.LME", base & ~EFER_LME, GP_VECTOR, base, "bit8 clear rule=no-LME-change-while-CR0.PG=1");
  write_and_check("efer.LMA", base & ~EFER_LMA, NO_EXCEPTION, base, "bit10 clear rule=LMA-write-ignored");

  gated("efer.NXE", 11, FEAT(0x80000001, 0, EDX, 20), "0x80000001:EDX[20]");
  gated("efer.SVME", 12, FEAT(0x80000001, 0, ECX, 2), "0x80000001:ECX[2]");

  /* LMSLE: mainline KVM allows it only with nested SVM on hosts lacking EferLmsleUnsupported. */
  int svm = cpuid_has(FEAT(0x80000001, 0, ECX, 2));
  int mbz = cpuid_has(FEAT(0x80000008, 0, EBX, 20));
  if (svm && !mbz)
    report_skip("efer.LMSLE", "bit13 svm=1 lmsle-mbz=0: KVM's answer depends on the host, not the guest CPUID");
  else {
    snprintf(detail, sizeof(detail), "bit13 svm=%d lmsle-mbz=%d(0x80000008:EBX[20]) rule=reserved", svm, mbz);
    write_and_check("efer.LMSLE", base | BIT(13), GP_VECTOR, 0, detail);
  }

  gated("efer.FFXSR", 14, FEAT(0x80000001, 0, EDX, 25), "0x80000001:EDX[25]");
  write_and_check("efer.TCE", base | BIT(15), GP_VECTOR, 0, "bit15 rule=reserved(KVM)");
  gated("efer.AUTOIBRS", 21, FEAT(0x80000021, 0, EAX, 8), "0x80000021:EAX[8]");

  char name[32];
  for (int bit = 1; bit < 64; bit++) {
    if (bit == 8 || bit == 10 || bit == 11 || bit == 12 || bit == 13 || bit == 14 || bit == 15 || bit == 21)
      continue;
    snprintf(name, sizeof(name), "efer.bit%d", bit);
    snprintf(detail, sizeof(detail), "bit%d rule=reserved", bit);
    write_and_check(name, base | BIT(bit), GP_VECTOR, 0, detail);
  }
  wrmsr_safe(MSR_EFER, base | (orig & (EFER_SCE | EFER_NXE)));
}
