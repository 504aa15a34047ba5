/*
 * sysinsn: instruction gating by CPUID and control bits (Intel SDM Vol. 2B SYSCALL, SYSRET, SYSENTER,
 * RDTSCP, RDPID, RDFSBASE, INVPCID; Vol. 3A §4.10.1 PCIDs; AMD APM Vol. 3; kvm-contract.md §3, §8).
 * SYSCALL/SYSRET raise #UD with EFER.SCE=0; SYSCALL with SCE=1 goes to IA32_LSTAR. SYSENTER in 64-bit
 * mode is #UD on AMD-compatible CPUs and #GP(0) on Intel with IA32_SYSENTER_CS=0. RDTSCP, RDPID,
 * INVPCID raise #UD without their CPUID bit; RD/WRFSBASE raise #UD with CR4.FSGSBASE=0. With
 * CR4.PCIDE=1, CR3[11:0] is the PCID and CR3[63] suppresses the flush (and reads back 0).
 */
#include "../guest/tsvmm.h"

const char program_name[] = "sysinsn";

#define MSR_STAR 0xC0000081u
#define MSR_FMASK 0xC0000084u
#define MSR_SYSENTER_CS 0x174u
#define X86_CR4_FSGSBASE BIT(16)

/* SYSCALL lands here at CPL0 with RCX = return RIP, R11 = RFLAGS (SDM Vol. 2B SYSCALL). */
void syscall_target(void);
__asm__(".text\n.globl syscall_target\nsyscall_target:\n  jmp *%rcx\n");

/* RSP is kept in R8 across the instruction (SYSCALL does not switch stacks; the target doesn't touch it). */
static u64 rsp_before, rsp_after;
static int do_syscall(void) {
  register u64 a __asm__("r8");
  register u64 b __asm__("r9");
  ex_arm();
  __asm__ volatile("mov %%rsp, %%r8\n" ASM_TRY("syscall") "mov %%rsp, %%r9\nmov %%r8, %%rsp\n"
                   : "=&r"(a), "=&r"(b) : : "rcx", "r11", "memory");
  rsp_before = a;
  rsp_after = b;
  return ex_result();
}
static int do_sysret(void) {
  ex_arm();
  __asm__ volatile(ASM_TRY("sysretq") : : : "rcx", "r11", "memory");
  return ex_result();
}
static int do_sysenter(void) {
  ex_arm();
  __asm__ volatile(ASM_TRY("sysenter") : : : "memory");
  return ex_result();
}
static int do_rdtscp(void) {
  u32 a, d, c;
  ex_arm();
  __asm__ volatile(ASM_TRY("rdtscp") : "=a"(a), "=d"(d), "=c"(c) : : "memory");
  return ex_result();
}
static int do_rdpid(void) {
  u64 v = 0;
  ex_arm();
  __asm__ volatile(ASM_TRY("rdpid %0") : "+r"(v) : : "memory");
  return ex_result();
}
static int do_rdfsbase(void) {
  u64 v = 0;
  ex_arm();
  __asm__ volatile(ASM_TRY("rdfsbase %0") : "+r"(v) : : "memory");
  return ex_result();
}
static int do_invpcid(u64 type) {
  static u64 desc[2] __attribute__((aligned(16)));
  desc[0] = 0;
  desc[1] = 0;
  ex_arm();
  __asm__ volatile(ASM_TRY("invpcid (%0), %1") : : "r"(desc), "r"(type) : "memory");
  return ex_result();
}

static int amd_like(void) {
  u32 b = cpuid_reg(0, 0, EBX);
  return b == 0x68747541u || b == 0x6f677948u;
}

static void syscall_checks(void) {
  u64 efer = 0;
  rdmsr_safe(MSR_EFER, &efer);
  wrmsr_safe(MSR_EFER, efer & ~EFER_SCE);
  if (try_check("syscall.sce0")) expect_vector("syscall.sce0", UD_VECTOR, do_syscall(), "EFER.SCE=0");
  if (try_check("sysret.sce0")) expect_vector("sysret.sce0", UD_VECTOR, do_sysret(), "EFER.SCE=0");
  int has = cpuid_has(FEAT(0x80000001u, 0, EDX, 11));
  wrmsr_safe(MSR_STAR, (u64)0x08 << 32);
  wrmsr_safe(MSR_LSTAR, (u64)syscall_target);
  wrmsr_safe(MSR_FMASK, 0);
  int w = wrmsr_safe(MSR_EFER, efer | EFER_SCE);
  /* KVM does not gate SYSCALL on the guest CPUID (EFER.SCE may be set without it); the manuals (AMD) do. */
  int expect = arch_mode() && !has ? UD_VECTOR : NO_EXCEPTION;
  if (w == NO_EXCEPTION && try_check("syscall.sce1")) {
    int got = do_syscall();
    if (got == NO_EXCEPTION && rsp_after != rsp_before)
      report("syscall.sce1", 0, "EFER.SCE=1 cpuid-SYSCALL=%d rsp=%#lx->%#lx (SYSCALL must not switch stacks)", has, rsp_before, rsp_after);
    else expect_vector("syscall.sce1", expect, got, "EFER.SCE=1 cpuid-SYSCALL=%d", has);
  }
  wrmsr_safe(MSR_EFER, efer);
}

static void sysenter_checks(void) {
  u64 cs = 0;
  rdmsr_safe(MSR_SYSENTER_CS, &cs);
  wrmsr_safe(MSR_SYSENTER_CS, 0);
  int amd = amd_like();
  if (try_check("sysenter.64bit"))
    expect_vector("sysenter.64bit", amd ? UD_VECTOR : GP_VECTOR, do_sysenter(), "SYSENTER_CS=0 vendor=%s",
                  amd ? "amd" : "intel");
  wrmsr_safe(MSR_SYSENTER_CS, cs);
}

static void gated(const char *name, int (*fn)(void), struct feature f, const char *where) {
  if (!try_check(name)) return;
  int has = cpuid_has(f);
  expect_vector(name, has ? NO_EXCEPTION : UD_VECTOR, fn(), "cpuid=%d(%s)", has, where);
}

static void fsgsbase_checks(void) {
  u64 cr4 = read_cr4();
  wrcr4_safe(cr4 & ~X86_CR4_FSGSBASE);
  if (try_check("fsgsbase.cr4-0")) expect_vector("fsgsbase.cr4-0", UD_VECTOR, do_rdfsbase(), "CR4.FSGSBASE=0");
  int has = cpuid_has(FEAT(7, 0, EBX, 0));
  if (!has) {
    report_skip("fsgsbase.cr4-1", "no FSGSBASE in CPUID");
    return;
  }
  int s = wrcr4_safe(cr4 | X86_CR4_FSGSBASE);
  if (try_check("fsgsbase.cr4-1")) expect_vector("fsgsbase.cr4-1", NO_EXCEPTION, do_rdfsbase(), "CR4.FSGSBASE=1 set=%s", vector_name(s));
  wrcr4_safe(cr4);
}

static void pcid_checks(void) {
  int has = cpuid_has(FEAT(1, 0, ECX, 17));
  int inv = cpuid_has(FEAT(7, 0, EBX, 10));
  if (try_check("invpcid.type2")) expect_vector("invpcid.type2", inv ? NO_EXCEPTION : UD_VECTOR, do_invpcid(2), "cpuid=%d(7.0:EBX[10])", inv);
  if (inv && try_check("invpcid.type4")) expect_vector("invpcid.type4", GP_VECTOR, do_invpcid(4), "type=4 (reserved)");
  if (!has) {
    report_skip("pcid.cr3", "no PCID in CPUID");
    return;
  }
  u64 cr3 = read_cr3(), cr4 = read_cr4();
  int s = wrcr4_safe(cr4 | X86_CR4_PCIDE);
  int a = s == NO_EXCEPTION ? wrcr3_safe(cr3 | 1) : s;
  u64 r1 = read_cr3();
  int b = s == NO_EXCEPTION ? wrcr3_safe(cr3 | 2 | BIT(63)) : s;
  u64 r2 = read_cr3();
  wrcr3_safe(cr3);
  wrcr4_safe(cr4);
  wrcr3_safe(cr3);
  report("pcid.cr3", s == NO_EXCEPTION && a == NO_EXCEPTION && b == NO_EXCEPTION && r1 == (cr3 | 1) && r2 == (cr3 | 2),
         "PCIDE=%s cr3|1=%s read=%#lx cr3|2|noflush=%s read=%#lx", vector_name(s), vector_name(a), r1, vector_name(b), r2);
}

void run_tests(void) {
  syscall_checks();
  sysenter_checks();
  gated("rdtscp", do_rdtscp, FEAT(0x80000001u, 0, EDX, 27), "0x80000001:EDX[27]");
  gated("rdpid", do_rdpid, FEAT(7, 0, ECX, 22), "7.0:ECX[22]");
  fsgsbase_checks();
  pcid_checks();
}
