/*
 * tsvmm guest library: the freestanding runtime every conformance program links against.
 * Boot (multiboot v1 / tsvmm "long64"), COM1 printf, an IDT that records faults, exception-safe
 * wrappers for the instructions the programs probe, CPUID helpers and the report protocol
 * (conformance/README.md). Register and bit definitions: Intel SDM Vol. 3A §2.5 (CR0/CR3/CR4),
 * §2.2.1 (EFER), §2.6 (XCR0), Vol. 4 (MSRs); AMD APM Vol. 2 §3.1.
 */
#ifndef TSVMM_GUEST_H
#define TSVMM_GUEST_H

#include <stdarg.h>
#include <stdint.h>

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

#define BIT(n) (1ull << (n))

/* ---- exception vectors (SDM Vol. 3A Table 6-1) ---- */
#define NO_EXCEPTION (-1)
#define DE_VECTOR 0
#define DB_VECTOR 1
#define BP_VECTOR 3
#define UD_VECTOR 6
#define NM_VECTOR 7
#define DF_VECTOR 8
#define TS_VECTOR 10
#define NP_VECTOR 11
#define SS_VECTOR 12
#define GP_VECTOR 13
#define PF_VECTOR 14
#define AC_VECTOR 17
#define MC_VECTOR 18
#define CP_VECTOR 21

/* ---- CR0 / CR4 / EFER / XCR0 bits ---- */
#define X86_CR0_PE BIT(0)
#define X86_CR0_MP BIT(1)
#define X86_CR0_EM BIT(2)
#define X86_CR0_TS BIT(3)
#define X86_CR0_ET BIT(4)
#define X86_CR0_NE BIT(5)
#define X86_CR0_WP BIT(16)
#define X86_CR0_AM BIT(18)
#define X86_CR0_NW BIT(29)
#define X86_CR0_CD BIT(30)
#define X86_CR0_PG BIT(31)

#define X86_CR4_PAE BIT(5)
#define X86_CR4_PGE BIT(7)
#define X86_CR4_LA57 BIT(12)
#define X86_CR4_PCIDE BIT(17)
#define X86_CR4_OSXSAVE BIT(18)
#define X86_CR4_PKE BIT(22)
#define X86_CR4_CET BIT(23)

#define MSR_EFER 0xC0000080u
#define EFER_SCE BIT(0)
#define EFER_LME BIT(8)
#define EFER_LMA BIT(10)
#define EFER_NXE BIT(11)

#define MSR_IA32_APICBASE 0x1Bu
#define MSR_IA32_SPEC_CTRL 0x48u
#define MSR_IA32_PAT 0x277u
#define MSR_IA32_XSS 0xDA0u
#define MSR_FS_BASE 0xC0000100u
#define MSR_LSTAR 0xC0000082u
#define MSR_TSC_AUX 0xC0000103u

#define XFEATURE_X87 BIT(0)
#define XFEATURE_SSE BIT(1)
#define XFEATURE_AVX BIT(2)

/* ---- port I/O ---- */
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) {
  u8 v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

/* ---- the last exception, filled by the IDT handler (desc.c) ---- */
struct ex_record {
  int vector; /* NO_EXCEPTION when the last safe instruction did not fault */
  u64 error_code;
  u64 rip;
  u64 cr2;
  u64 count; /* total exceptions taken through the exception table */
};
extern volatile struct ex_record last_ex;

/*
 * Exception-table entries: an instruction that may fault and where to resume if it does.
 * ASM_TRY wraps one instruction: "1:" is the instruction, "2:" the resume point. The IDT handler
 * looks the faulting RIP up in the table, records the exception in last_ex, and continues at "2:".
 */
#define ASM_TRY(insn)                                                                         \
  "1: " insn "\n"                                                                             \
  "2:\n"                                                                                      \
  ".pushsection .ex_table, \"a\"\n"                                                           \
  ".balign 8\n"                                                                               \
  ".quad 1b, 2b\n"                                                                            \
  ".popsection\n"

static inline void ex_arm(void) {
  last_ex.vector = NO_EXCEPTION;
  __asm__ volatile("" : : : "memory");
}
static inline int ex_result(void) {
  __asm__ volatile("" : : : "memory");
  return last_ex.vector;
}

/* ---- control registers ---- */
static inline u64 read_cr0(void) { u64 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u64 read_cr2(void) { u64 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u64 read_cr3(void) { u64 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u64 read_cr4(void) { u64 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline u64 read_cr8(void) { u64 v; __asm__ volatile("mov %%cr8, %0" : "=r"(v)); return v; }

/* Each *_safe returns NO_EXCEPTION (-1) or the vector the instruction raised. */
static inline int wrcr0_safe(u64 v) {
  ex_arm();
  __asm__ volatile(ASM_TRY("mov %0, %%cr0") : : "r"(v) : "memory");
  return ex_result();
}
static inline int wrcr3_safe(u64 v) {
  ex_arm();
  __asm__ volatile(ASM_TRY("mov %0, %%cr3") : : "r"(v) : "memory");
  return ex_result();
}
static inline int wrcr4_safe(u64 v) {
  ex_arm();
  __asm__ volatile(ASM_TRY("mov %0, %%cr4") : : "r"(v) : "memory");
  return ex_result();
}
static inline int mov_to_cr8_safe(u64 v) {
  ex_arm();
  __asm__ volatile(ASM_TRY("mov %0, %%cr8") : : "r"(v) : "memory");
  return ex_result();
}

/* ---- debug registers (SDM Vol. 3A §17.2) ---- */
static inline int wrdr6_safe(u64 v) {
  ex_arm();
  __asm__ volatile(ASM_TRY("mov %0, %%db6") : : "r"(v) : "memory");
  return ex_result();
}
static inline int wrdr7_safe(u64 v) {
  ex_arm();
  __asm__ volatile(ASM_TRY("mov %0, %%db7") : : "r"(v) : "memory");
  return ex_result();
}
static inline u64 read_dr6(void) { u64 v; __asm__ volatile("mov %%db6, %0" : "=r"(v)); return v; }
static inline u64 read_dr7(void) { u64 v; __asm__ volatile("mov %%db7, %0" : "=r"(v)); return v; }

/* ---- MSRs ---- */
static inline int rdmsr_safe(u32 index, u64 *out) {
  u32 lo = 0, hi = 0;
  ex_arm();
  __asm__ volatile(ASM_TRY("rdmsr") : "+a"(lo), "+d"(hi) : "c"(index) : "memory");
  *out = ((u64)hi << 32) | lo;
  return ex_result();
}
static inline int wrmsr_safe(u32 index, u64 v) {
  ex_arm();
  __asm__ volatile(ASM_TRY("wrmsr") : : "c"(index), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
  return ex_result();
}

/* ---- XCRs ---- */
static inline int xsetbv_safe(u32 index, u64 v) {
  ex_arm();
  __asm__ volatile(ASM_TRY(".byte 0x0f, 0x01, 0xd1") : : "c"(index), "a"((u32)v), "d"((u32)(v >> 32))
                   : "memory");
  return ex_result();
}
static inline int xgetbv_safe(u32 index, u64 *out) {
  u32 lo = 0, hi = 0;
  ex_arm();
  __asm__ volatile(ASM_TRY(".byte 0x0f, 0x01, 0xd0") : "+a"(lo), "+d"(hi) : "c"(index) : "memory");
  *out = ((u64)hi << 32) | lo;
  return ex_result();
}

/* ---- CPUID ---- */
struct cpuid_regs {
  u32 eax, ebx, ecx, edx;
};
static inline struct cpuid_regs cpuid(u32 leaf, u32 subleaf) {
  struct cpuid_regs r;
  __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
  return r;
}
enum cpuid_reg { EAX, EBX, ECX, EDX };
/* A feature bit location, as in the SDM's CPUID.(EAX=leaf,ECX=sub):reg[bit]. */
struct feature {
  u32 leaf, sub;
  enum cpuid_reg reg;
  u8 bit;
};
#define FEAT(l, s, r, b) ((struct feature){(l), (s), (r), (b)})
/* True when the guest's CPUID enumerates the bit; leaves beyond the maximum read as zero. */
int cpuid_has(struct feature f);
u32 cpuid_reg(u32 leaf, u32 sub, enum cpuid_reg reg);

/* ---- ring 3 (user.c) ---- */
/* Put a function (and any data it touches) on the user-accessible pages. */
#define USER_CODE __attribute__((section(".user.text"), noinline))
#define USER_DATA __attribute__((section(".user.data")))
/*
 * Run fn(arg) at CPL3. Returns NO_EXCEPTION when fn returned (its return value in *result), or the
 * vector of the exception that ended it (also recorded in last_ex). Interrupts stay disabled.
 */
int run_user(u64 (*fn)(u64), u64 arg, u64 *result);

/* ---- formatted output (printf.c) ---- */
int vsnprintf(char *buf, unsigned long size, const char *fmt, va_list ap);
int snprintf(char *buf, unsigned long size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void serial_init(void);
void serial_putc(char c);
void serial_puts(const char *s);

/* ---- string.c ---- */
void *memset(void *d, int c, unsigned long n);
void *memcpy(void *d, const void *s, unsigned long n);
unsigned long strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, unsigned long n);

/* ---- report protocol (report.c) ---- */
/* One line per check: TSVMM-REPORT <PASS|FAIL|SKIP> <name> [detail]. Names have no spaces. */
void report(const char *name, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void report_skip(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Compare the outcome of a safe instruction with the expected one and report PASS/FAIL; the detail
 * is the formatted text followed by "expect=<#XX|ok> got=<#XX|ok>". Returns 1 when they matched.
 */
int expect_vector(const char *name, int expected, int got, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/*
 * Announce a check whose instruction a backend may be unable to execute (TSVMM-TRY <name>). When the
 * runner listed it in "tsvmm.skip=" on the command line, reports it SKIP and returns 0: don't run it.
 */
int try_check(const char *name);
/* Is the word on the command line? arch_mode(): the runner asked for the manuals' rules
 * ("tsvmm.mode=arch") instead of KVM's (the default, "KVM-exact"). */
int cmdline_has(const char *word);
int arch_mode(void);
const char *vector_name(int vector);
/* Ends the program: the summary line, then isa-debug-exit (0xf4) with 0 (all passed) or 1. */
__attribute__((noreturn)) void report_exit(void);
__attribute__((noreturn)) void debug_exit(u32 code);

/* Every program defines these. */
extern const char program_name[];
void run_tests(void);

/* Boot information, filled before run_tests(). */
extern u64 boot_magic;
extern u64 boot_info;
extern int boot_entry_bits; /* 32 = entered via _start32 (multiboot), 64 = _start64 (long64) */
extern const char *boot_cmdline;

#endif
