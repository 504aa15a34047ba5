/*
 * guestlib: a self-test of the guest library the other programs rely on — formatted output, the
 * exception table (vector, error code, faulting RIP and resumption; Intel SDM Vol. 3A §6.13 "Error
 * Code", Table 6-1), and the CR8 helpers (SDM Vol. 3A §11.8.6: CR8 bits 63:4 are reserved).
 */
#include "../guest/tsvmm.h"

const char program_name[] = "guestlib";

static void check_format(void) {
  char buf[160];
  snprintf(buf, sizeof(buf), "%5d|%-5d|%05d|%x|%#lx|%llx|%p|%c|%s|%u|%d|%X|%%", 42, 42, -42, 0xbeefu, 0x1234ul,
           0xfedcba9876543210ull, (void *)0x1000, 'z', "str", 4000000000u, -2147483647 - 1, 0xabcu);
  const char *want = "   42|42   |-0042|beef|0x1234|fedcba9876543210|0x1000|z|str|4000000000|-2147483648|ABC|%";
  report("lib.printf", strcmp(buf, want) == 0, "got=\"%s\"", buf);
  int n = snprintf(buf, 8, "%s", "0123456789");
  report("lib.snprintf-truncates", n == 10 && strcmp(buf, "0123456") == 0, "n=%d buf=\"%s\"", n, buf);
}

static void check_exceptions(void) {
  u64 rip = 0, before = last_ex.count;
  ex_arm();
  __asm__ volatile("lea 1f(%%rip), %0\n" ASM_TRY("ud2") : "=r"(rip) : : "memory");
  int v = ex_result();
  report("lib.ex.ud2", v == UD_VECTOR && last_ex.rip == rip && last_ex.count == before + 1,
         "vector=%s rip=%#lx expect-rip=%#lx count=%lu", vector_name(v), last_ex.rip, rip, last_ex.count - before);

  u64 ignored;
  v = rdmsr_safe(0x12345678u, &ignored);
  report("lib.ex.gp-error-code", v == GP_VECTOR && last_ex.error_code == 0, "vector=%s error=%#lx", vector_name(v),
         last_ex.error_code);

  u64 value = 0;
  ex_arm();
  __asm__ volatile(ASM_TRY("movq (%1), %0") : "+r"(value) : "r"(0x8000000000000000ull) : "memory");
  v = ex_result();
  expect_vector("lib.ex.noncanonical-load", GP_VECTOR, v, "address=0x8000000000000000");

  u64 q = 7;
  ex_arm();
  __asm__ volatile("xor %%edx, %%edx\n" ASM_TRY("divq %2") : "+a"(q) : "d"(0), "r"(0ull) : "memory");
  expect_vector("lib.ex.divide-error", DE_VECTOR, ex_result(), "7/0");

  /* no exception: the safe helper reports none and execution simply continues */
  expect_vector("lib.ex.none", NO_EXCEPTION, wrcr4_safe(read_cr4()), "rewrite CR4 with itself");
}

static void check_cr8(void) {
  int v = mov_to_cr8_safe(5);
  u64 now = read_cr8();
  report("lib.cr8.tpr", v == NO_EXCEPTION && now == 5, "write=5 %s read=%lu", vector_name(v), now);
  expect_vector("lib.cr8.reserved", GP_VECTOR, mov_to_cr8_safe(0x10), "write=0x10 rule=bits-63:4-reserved");
  mov_to_cr8_safe(0);
}

void run_tests(void) {
  check_format();
  check_exceptions();
  check_cr8();
}
