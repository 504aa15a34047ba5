/*
 * Descriptor tables and exception handling: the 64-bit IDT (Intel SDM Vol. 3A §6.14.1, 64-bit
 * interrupt gates), the 64-bit TSS with an IST stack for #DF (§8.7), and the exception handler
 * that resumes after an instruction listed in the exception table (the ASM_TRY idea of
 * kvm-unit-tests). Also the boot hand-off into the program (guest_start).
 */
#include "tsvmm.h"

/* The frame exc_common builds (boot.S): GPRs, vector, error code, then the CPU's frame. */
struct ex_regs {
  u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  u64 vector, error_code;
  u64 rip, cs, rflags, rsp, ss;
};

struct ex_entry {
  u64 insn, fixup;
};

struct idt_gate {
  u16 offset0, selector;
  u8 ist, type_attr;
  u16 offset1;
  u32 offset2, reserved;
} __attribute__((packed));

struct tss64 {
  u32 reserved0;
  u64 rsp0, rsp1, rsp2;
  u64 reserved1;
  u64 ist[7];
  u64 reserved2;
  u16 reserved3, iomap_base;
} __attribute__((packed));

extern const u64 exc_stub_table[48];
extern u64 gdt[];
extern const struct ex_entry __ex_table_start[], __ex_table_end[];
extern char df_stack_top[];

#define NUM_VECTORS 48
static struct idt_gate idt[NUM_VECTORS] __attribute__((aligned(16)));
struct tss64 tss __attribute__((aligned(16)));
volatile struct ex_record last_ex;
volatile u64 irq_count[NUM_VECTORS];

u64 boot_magic, boot_info;
int boot_entry_bits;
const char *boot_cmdline = "";

static void set_gate(int vec, u64 handler, int ist) {
  struct idt_gate *g = &idt[vec];
  g->offset0 = (u16)handler;
  g->selector = 0x08;
  g->ist = (u8)ist;
  g->type_attr = 0x8E; /* present, DPL0, 64-bit interrupt gate */
  g->offset1 = (u16)(handler >> 16);
  g->offset2 = (u32)(handler >> 32);
  g->reserved = 0;
}

static void setup_tss(void) {
  u64 base = (u64)&tss;
  u64 limit = sizeof(tss) - 1;
  tss.ist[0] = (u64)df_stack_top;
  tss.iomap_base = sizeof(tss);
  /* 64-bit available TSS descriptor (type 9), SDM Vol. 3A §8.2.3 */
  gdt[4] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xF) << 48) |
           (((base >> 24) & 0xFF) << 56);
  gdt[5] = base >> 32;
  __asm__ volatile("ltr %w0" : : "r"(0x20) : "memory");
}

static void setup_idt(void) {
  struct {
    u16 limit;
    u64 base;
  } __attribute__((packed)) ptr = {sizeof(idt) - 1, (u64)idt};
  for (int v = 0; v < NUM_VECTORS; v++) set_gate(v, exc_stub_table[v], v == DF_VECTOR ? 1 : 0);
  __asm__ volatile("lidt %0" : : "m"(ptr) : "memory");
}

void exception_handler(struct ex_regs *r);
void user_exception(u64 vector, u64 error_code, u64 rip, u64 cr2, u64 rax);
extern char user_return[];
extern u64 user_kernel_rsp;
void exception_handler(struct ex_regs *r) {
  if (r->vector >= 32) {
    irq_count[r->vector]++;
    return;
  }
  u64 cr2 = r->vector == PF_VECTOR ? read_cr2() : 0;
  if (r->cs & 3) {
    user_exception(r->vector, r->error_code, r->rip, cr2, r->rax);
    /* back to run_user's caller, at CPL0 on the kernel stack (exc_common's same-ring return path) */
    r->rip = (u64)user_return;
    r->cs = 0x08;
    r->ss = 0x10;
    r->rsp = user_kernel_rsp;
    r->rflags = 0x2;
    return;
  }
  for (const struct ex_entry *e = __ex_table_start; e < __ex_table_end; e++) {
    if (e->insn == r->rip) {
      last_ex.vector = (int)r->vector;
      last_ex.error_code = r->error_code;
      last_ex.rip = r->rip;
      last_ex.cr2 = cr2;
      last_ex.count++;
      r->rip = e->fixup;
      return;
    }
  }
  report("unexpected-exception", 0, "vector=%s(%d) error=%#lx rip=%#lx cr2=%#lx", vector_name((int)r->vector),
         (int)r->vector, r->error_code, r->rip, cr2);
  report_exit();
}

u32 cpuid_reg(u32 leaf, u32 sub, enum cpuid_reg reg) {
  u32 range = leaf & 0xFFFF0000u;
  u32 max = cpuid(range, 0).eax;
  if (leaf > max) return 0;
  if (range == 0x80000000u && max < 0x80000000u) return 0;
  if (leaf == 7 && sub > cpuid(7, 0).eax) return 0;
  struct cpuid_regs r = cpuid(leaf, sub);
  switch (reg) {
    case EAX: return r.eax;
    case EBX: return r.ebx;
    case ECX: return r.ecx;
    default: return r.edx;
  }
}

int cpuid_has(struct feature f) { return (int)((cpuid_reg(f.leaf, f.sub, f.reg) >> f.bit) & 1); }

/* Multiboot info (Multiboot Specification §3.3): flags at +0, cmdline (flags bit 2) at +16. */
static void read_boot_info(void) {
  if (boot_magic != 0x2BADB002u || boot_info == 0 || boot_info >= (1ull << 32)) return;
  const volatile u32 *mbi = (const volatile u32 *)boot_info;
  if ((mbi[0] & BIT(2)) && mbi[4] != 0) boot_cmdline = (const char *)(u64)mbi[4];
}

/*
 * The guest-visible CPUID of the leaves the programs decide on, as "TSVMM-CPUID <leaf> <subleaf> eax ebx
 * ecx edx" lines, so the runner can compare what the guest saw with the policy it configured.
 */
static void print_cpuid_view(void) {
  static const u32 leaves[][2] = {{0, 0}, {1, 0}, {7, 0}, {7, 1}, {0xD, 0}, {0xD, 1},
                                  {0x80000000u, 0}, {0x80000001u, 0}, {0x80000008u, 0}, {0x80000021u, 0}};
  for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
    u32 l = leaves[i][0], s = leaves[i][1];
    printf("TSVMM-CPUID %#x %#x %#x %#x %#x %#x\n", l, s, cpuid_reg(l, s, EAX), cpuid_reg(l, s, EBX),
           cpuid_reg(l, s, ECX), cpuid_reg(l, s, EDX));
  }
}

/*
 * User pages: the first 2 MiB are remapped with 4-KiB pages so that only the .user section
 * (__user_start..__user_end, code and stack for run_user) is user-accessible (U=1, SDM Vol. 3A
 * §4.6); everything else stays supervisor, so SMEP/SMAP checks keep working on the library's pages.
 */
extern u64 pml4[], pdpt[], pd[];
extern char __user_start[], __user_end[];
static u64 pt0[512] __attribute__((aligned(4096)));

static void setup_user_pages(void) {
  for (u64 i = 0; i < 512; i++) {
    u64 a = i << 12;
    int user = a >= (u64)__user_start && a < (u64)__user_end;
    pt0[i] = a | 0x3 | (user ? 0x4 : 0);
  }
  pml4[0] |= 0x4;
  pdpt[0] |= 0x4;
  pd[0] = (u64)pt0 | 0x7;
  __asm__ volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
}

void guest_start(u64 magic, u64 info, u64 entry_bits);
__attribute__((noreturn)) void guest_start(u64 magic, u64 info, u64 entry_bits) {
  boot_magic = magic;
  boot_info = info;
  boot_entry_bits = (int)entry_bits;
  serial_init();
  setup_tss();
  setup_idt();
  setup_user_pages();
  /* A sane CR0 whatever the VMM left: PE|MP|ET|NE|WP|PG, caches on, no AM/EM/TS. */
  u64 cr0 = read_cr0();
  cr0 |= X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_PG;
  cr0 &= ~(X86_CR0_EM | X86_CR0_TS | X86_CR0_AM | X86_CR0_NW | X86_CR0_CD);
  __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
  read_boot_info();
  printf("TSVMM-BEGIN %s entry=%s%d magic=%#lx cmdline=\"%s\"\n", program_name,
         entry_bits == 32 ? "multiboot" : "long", (int)entry_bits, magic, boot_cmdline);
  print_cpuid_view();
  report("boot.magic", magic == 0x2BADB002u, "magic=%#lx expect=0x2badb002", magic);
  run_tests();
  report_exit();
}
