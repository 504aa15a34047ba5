/*
 * excodes: exception vectors and error codes (Intel SDM Vol. 3A §6.13 "Error Code", §6.15 exception
 * reference (Table 6-1), §4.7 page-fault error code; AMD APM Vol. 2 §8.4). #UD and #DE push no error
 * code; #GP from a refused WRMSR is #GP(0); a selector beyond the GDT limit is #GP(selector); a
 * non-canonical data address is #GP(0) and a non-canonical stack address #SS(0); a not-present page
 * is #PF with P=0, W/R = the access, CR2 = the address.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "excodes";

static void check(const char *name, int vector, u64 err, int want_vector, u64 want_err, int has_err, const char *what) {
  int ok = vector == want_vector && (!has_err || err == want_err);
  char detail[160];
  snprintf(detail, sizeof(detail), "%s vector=%s error=%#lx expect-error=%s%#lx expect=%s got=%s", what, vector_name(vector),
           err, has_err ? "" : "none/", has_err ? want_err : 0, vector_name(want_vector), vector_name(vector));
  report(name, ok, "%s", detail);
}

void run_tests(void) {
  ex_arm();
  __asm__ volatile(ASM_TRY("ud2") : : : "memory");
  check("ex.ud", ex_result(), last_ex.error_code, UD_VECTOR, 0, 0, "ud2");

  u64 zero = 0;
  ex_arm();
  __asm__ volatile(ASM_TRY("divq %0") : : "r"(zero), "a"(1), "d"(0) : "memory");
  check("ex.de", ex_result(), last_ex.error_code, DE_VECTOR, 0, 0, "div-by-zero");

  int v = wrmsr_safe(0x4b564dffu, 0);
  check("ex.gp0.wrmsr", v, last_ex.error_code, GP_VECTOR, 0, 1, "wrmsr(unknown)");

  if (try_check("ex.gp-selector")) {
    ex_arm();
    __asm__ volatile("mov %%ds, %%bx\n" ASM_TRY("mov %%ax, %%ds") "mov %%bx, %%ds\n" : : "a"(0x1000) : "rbx", "memory");
    check("ex.gp-selector", ex_result(), last_ex.error_code, GP_VECTOR, 0x1000, 1, "mov-ds(0x1000)-beyond-GDT-limit");
  }

  if (try_check("ex.gp-noncanonical")) {
    u64 x;
    ex_arm();
    __asm__ volatile(ASM_TRY("mov (%1), %0") : "=r"(x) : "r"(0x0000800000000000ull) : "memory");
    check("ex.gp-noncanonical", ex_result(), last_ex.error_code, GP_VECTOR, 0, 1, "read(0x800000000000)");
  }

  if (try_check("ex.ss-noncanonical")) {
    ex_arm();
    __asm__ volatile("push %%rbp\n"
                     "mov %0, %%rbp\n"
                     "1: mov (%%rbp), %%rax\n"
                     "2: pop %%rbp\n"
                     ".pushsection .ex_table, \"a\"\n.balign 8\n.quad 1b, 2b\n.popsection\n"
                     :
                     : "r"(0x0000800000000000ull)
                     : "rax", "memory");
    check("ex.ss-noncanonical", ex_result(), last_ex.error_code, SS_VECTOR, 0, 1, "read(rbp=0x800000000000)");
  }

  /* 512 GiB: PML4 entry 1 is not present in the guest library's identity map. */
  const u64 np = 0x8000000000ull;
  if (try_check("ex.pf-read")) {
    u64 x;
    ex_arm();
    __asm__ volatile(ASM_TRY("mov (%1), %0") : "=r"(x) : "r"(np) : "memory");
    int vec = ex_result();
    check("ex.pf-read", vec, last_ex.error_code, PF_VECTOR, 0, 1, "read(0x8000000000)");
    report("ex.pf-read.cr2", vec == PF_VECTOR && last_ex.cr2 == np, "cr2=%#lx expect-cr2=%#lx", last_ex.cr2, np);
  }
  if (try_check("ex.pf-write")) {
    ex_arm();
    __asm__ volatile(ASM_TRY("movq $1, (%0)") : : "r"(np) : "memory");
    check("ex.pf-write", ex_result(), last_ex.error_code, PF_VECTOR, 2, 1, "write(0x8000000000)");
  }
}
