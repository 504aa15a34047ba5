/*
 * cr0: MOV to CR0 in 64-bit mode, bit by bit (Intel SDM Vol. 3A §2.5 "Control Registers", Figure 2-7;
 * KVM's kvm_is_valid_cr0/kvm_set_cr0: kvm-contract.md §2). From a base of PE|MP|ET|NE|WP|PG:
 * flag bits toggle freely; ET reads back 1 whatever is written; the other low reserved bits are
 * silently dropped (no fault); bits 63:32 raise #GP; NW without CD raises #GP; PE can't be cleared
 * while PG=1; PG can't be cleared in 64-bit mode.
 */
#include "../guest/tsvmm.h"

const char program_name[] = "cr0";

static u64 base;

/* Write base|bit (or base&~bit), check the fault and the read-back, restore: one report line. */
static void try_write(const char *name, u64 value, int expected, u64 expect_readback, const char *detail) {
  int got = wrcr0_safe(value);
  u64 now = read_cr0();
  int restore = wrcr0_safe(base);
  char extra[96] = "";
  if (got == NO_EXCEPTION && now != expect_readback)
    snprintf(extra, sizeof(extra), " readback=%#lx expect-readback=%#lx", now, expect_readback);
  else if (got != NO_EXCEPTION && now != base) snprintf(extra, sizeof(extra), " fault-but-CR0=%#lx", now);
  else if (restore != NO_EXCEPTION) snprintf(extra, sizeof(extra), " restore=%s", vector_name(restore));
  report(name, got == expected && !extra[0], "%s expect=%s got=%s%s", detail, vector_name(expected), vector_name(got),
         extra);
}

void run_tests(void) {
  base = read_cr0();
  report("cr0.base", base == (X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG),
         "cr0=%#lx", base);

  static const struct {
    const char *name;
    u8 bit;
  } flags[] = {{"MP", 1}, {"EM", 2}, {"TS", 3}, {"NE", 5}, {"WP", 16}, {"AM", 18}};
  char name[32], detail[96];
  for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
    u64 b = BIT(flags[i].bit);
    snprintf(name, sizeof(name), "cr0.%s", flags[i].name);
    int set = (base & b) != 0;
    snprintf(detail, sizeof(detail), "bit%d%s rule=flag", flags[i].bit, set ? " clear" : "");
    u64 v = set ? base & ~b : base | b;
    try_write(name, v, NO_EXCEPTION, v, detail);
  }

  try_write("cr0.ET", base & ~X86_CR0_ET, NO_EXCEPTION, base, "bit4 clear rule=ET-forced-to-1");
  try_write("cr0.PE", base & ~X86_CR0_PE, GP_VECTOR, base, "bit0 clear rule=PG-needs-PE");
  try_write("cr0.PG", base & ~X86_CR0_PG, GP_VECTOR, base, "bit31 clear rule=no-PG-clear-in-64-bit-mode");
  try_write("cr0.NW", base | X86_CR0_NW, GP_VECTOR, base, "bit29 rule=NW-needs-CD");
  try_write("cr0.CD", base | X86_CR0_CD, NO_EXCEPTION, base | X86_CR0_CD, "bit30 rule=flag");
  try_write("cr0.CD-NW", base | X86_CR0_CD | X86_CR0_NW, NO_EXCEPTION, base | X86_CR0_CD | X86_CR0_NW,
            "bit29+30 rule=NW-with-CD-ok");

  for (int bit = 6; bit < 32; bit++) {
    if (bit == 16 || bit == 18 || bit >= 29) continue;
    snprintf(name, sizeof(name), "cr0.bit%d", bit);
    snprintf(detail, sizeof(detail), "bit%d rule=reserved-low-bit-dropped(KVM)", bit);
    try_write(name, base | BIT(bit), NO_EXCEPTION, base, detail);
  }
  for (int bit = 32; bit < 64; bit++) {
    snprintf(name, sizeof(name), "cr0.bit%d", bit);
    snprintf(detail, sizeof(detail), "bit%d rule=reserved-high-bit", bit);
    try_write(name, base | BIT(bit), GP_VECTOR, base, detail);
  }
}
