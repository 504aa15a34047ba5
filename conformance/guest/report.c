/*
 * The report protocol (conformance/README.md): one "TSVMM-REPORT <PASS|FAIL|SKIP> <name> [detail]"
 * line per check, "TSVMM-TRY <name>" before a check a backend may be unable to execute, a
 * "TSVMM-SUMMARY passed=N failed=N skipped=N" line, then the isa-debug-exit port 0xf4 (QEMU's
 * isa-debug-exit device: the VMM exits with status (value << 1) | 1).
 */
#include "tsvmm.h"

#define DEBUG_EXIT_PORT 0xF4

static u32 passed, failed, skipped;

static const char *const names[32] = {
    "#DE", "#DB", "#NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

const char *vector_name(int vector) {
  if (vector == NO_EXCEPTION) return "ok";
  if (vector >= 0 && vector < 32) return names[vector];
  return "#IRQ";
}

static void line(const char *verdict, const char *name, const char *fmt, va_list ap) {
  char detail[320];
  vsnprintf(detail, sizeof(detail), fmt, ap);
  printf("TSVMM-REPORT %s %s%s%s\n", verdict, name, detail[0] ? " " : "", detail);
}

void report(const char *name, int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line(ok ? "PASS" : "FAIL", name, fmt, ap);
  va_end(ap);
  if (ok) passed++;
  else failed++;
}

void report_skip(const char *name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  line("SKIP", name, fmt, ap);
  va_end(ap);
  skipped++;
}

int expect_vector(const char *name, int expected, int got, const char *fmt, ...) {
  char detail[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  int ok = expected == got;
  report(name, ok, "%s%sexpect=%s got=%s", detail, detail[0] ? " " : "", vector_name(expected), vector_name(got));
  return ok;
}

/* Is `name` listed in the command line's "tsvmm.skip=a,b,c"? */
static int skipped_by_runner(const char *name) {
  const char *key = "tsvmm.skip=";
  unsigned long klen = strlen(key), nlen = strlen(name);
  for (const char *p = boot_cmdline; *p; p++) {
    if ((p != boot_cmdline && p[-1] != ' ') || strncmp(p, key, klen) != 0) continue;
    const char *q = p + klen;
    while (*q && *q != ' ') {
      const char *end = q;
      while (*end && *end != ',' && *end != ' ') end++;
      if ((unsigned long)(end - q) == nlen && strncmp(q, name, nlen) == 0) return 1;
      q = *end == ',' ? end + 1 : end;
    }
  }
  return 0;
}

/* Is the word `word` (e.g. "tsvmm.mode=arch") on the command line? */
int cmdline_has(const char *word) {
  unsigned long n = strlen(word);
  for (const char *p = boot_cmdline; *p; p++) {
    if ((p != boot_cmdline && p[-1] != ' ') || strncmp(p, word, n) != 0) continue;
    if (p[n] == 0 || p[n] == ' ') return 1;
  }
  return 0;
}

int arch_mode(void) { return cmdline_has("tsvmm.mode=arch"); }

int try_check(const char *name) {
  if (skipped_by_runner(name)) {
    report_skip(name, "oracle-unavailable: the runner saw this check stop the backend");
    return 0;
  }
  printf("TSVMM-TRY %s\n", name);
  return 1;
}

void debug_exit(u32 code) {
  outl(DEBUG_EXIT_PORT, code);
  /* No debug-exit device: halt with interrupts off so the VMM sees HLT. */
  for (;;) __asm__ volatile("cli; hlt");
}

void report_exit(void) {
  printf("TSVMM-SUMMARY passed=%u failed=%u skipped=%u\n", passed, failed, skipped);
  debug_exit(failed ? 1 : 0);
}
