/*
 * efer: WRMSR to IA32_EFER (0xC0000080) bit by bit in 64-bit mode with paging on (Intel SDM Vol. 3A
 * §2.2.1 and Vol. 4 Table 2-2; AMD APM Vol. 2 §3.1.7; KVM's rules: kvm-contract.md §3). SCE is always
 * writable under KVM (the manuals gate it on SYSCALL); LME can't change while CR0.PG=1; LMA writes are
 * ignored; NXE/SVME/FFXSR/AUTOIBRS need their CPUID bits; LMSLE, TCE and every other bit are reserved.
 */
#include "../guest/tsvmm.h"
#include "../guest/contract-tables.h"

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

/* The EFER rows come from the contract's table (src/arch/x86/registers/efer.ts) through the generated
 * contract-tables.h: valid under KVM iff ungated or any gate is enumerated; architecturally iff gated. */
static const struct ct_bit *find(int bit) {
  for (unsigned i = 0; i < CT_EFER_NBITS; i++)
    if (ct_efer_bits[i].bit == bit) return &ct_efer_bits[i];
  return 0;
}

static void table_bit(const struct ct_bit *b) {
  char name[32], detail[160];
  int has = ct_any(b->gate, b->ngates);
  int ok = b->kind == CT_NEVER ? 0 : arch_mode() ? has : (b->kind == CT_UNGATED || has);
  snprintf(name, sizeof(name), "efer.%s", b->name);
  snprintf(detail, sizeof(detail), "bit%d cpuid=%d(%s) kvm=%s%s%s", b->bit, has, b->gate_text[0] ? b->gate_text : "none",
           b->kind == CT_UNGATED ? "ungated" : b->kind == CT_GATED ? "gated" : "never", arch_mode() ? " mode=arch" : "",
           ok ? "" : b->kind == CT_NEVER ? " rule=efer.reserved" : " rule=efer.cpuid");
  write_and_check(name, base | BIT(b->bit), ok ? NO_EXCEPTION : GP_VECTOR, base | BIT(b->bit), detail);
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
  write_and_check("efer.LME", base & ~EFER_LME, GP_VECTOR, base, "bit8 clear rule=efer.lme-change-while-paging");
  write_and_check("efer.LMA", base & ~EFER_LMA, NO_EXCEPTION, base, "bit10 clear rule=LMA-write-ignored");
  for (unsigned i = 0; i < CT_EFER_NBITS; i++) {
    const struct ct_bit *b = &ct_efer_bits[i];
    if (b->bit == 8 || b->bit == 10) continue; /* LME/LMA: the cross-register rules above */
    if (b->bit == 13) {
      /* LMSLE: mainline KVM allows it only with nested SVM on hosts lacking EferLmsleUnsupported. */
      int svm = cpuid_has(FEAT(0x80000001, 0, ECX, 2));
      int mbz = cpuid_has(FEAT(0x80000008, 0, EBX, 20));
      if (svm && !mbz) {
        report_skip("efer.LMSLE", "bit13 svm=1 lmsle-mbz=0: KVM's answer depends on the host rule=efer.lmsle");
        continue;
      }
      snprintf(detail, sizeof(detail), "bit13 svm=%d lmsle-mbz=%d(0x80000008:EBX[20]) rule=efer.lmsle", svm, mbz);
      write_and_check("efer.LMSLE", base | BIT(13), GP_VECTOR, 0, detail);
      continue;
    }
    table_bit(b);
  }

  char name[32];
  for (int bit = 1; bit < 64; bit++) {
    if (find(bit)) continue;
    snprintf(name, sizeof(name), "efer.bit%d", bit);
    snprintf(detail, sizeof(detail), "bit%d rule=efer.reserved(undefined)", bit);
    write_and_check(name, base | BIT(bit), GP_VECTOR, 0, detail);
  }
  wrmsr_safe(MSR_EFER, base | (orig & (EFER_SCE | EFER_NXE)));
}
