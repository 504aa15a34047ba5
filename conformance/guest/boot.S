/*
 * Guest boot: multiboot v1 header (Multiboot Specification 0.6.96 §3.1, a.out kludge flag 16),
 * the 32-bit multiboot entry that enters IA-32e mode (Intel SDM Vol. 3A §10.8.5 "Initializing
 * IA-32e Mode"), the 64-bit "long64" entry, the GDT, identity page tables (SDM Vol. 3A §4.5,
 * 2-MByte pages), the exception stubs and the exception return path.
 *
 * Register conventions on entry:
 *   _start32 (multiboot):  EAX = 0x2BADB002, EBX = info, 32-bit flat protected mode, paging off.
 *   _start64 (long64):     RAX = 0x2BADB002, RDI = info, long mode, paging on (identity >= 1 GiB),
 *                          flat 64-bit CS. We switch to our own stack, GDT and CR3 at once.
 */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010003 /* bit 0 page-align modules, bit 1 memory info, bit 16 address fields */

#define SEL_CODE64 0x08
#define SEL_DATA 0x10
#define SEL_CODE32 0x18
#define SEL_TSS 0x20

        .section .multiboot, "a"
        .balign 4
        .globl multiboot_header
multiboot_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
        .long multiboot_header          /* header_addr */
        .long __image_start             /* load_addr */
        .long __load_end                /* load_end_addr */
        .long __bss_end_all             /* bss_end_addr */
        .long _start32                  /* entry_addr */

/* ------------------------------------------------------------------------------------------ */
        .section .text.boot, "ax"
        .code32
        .globl _start32
_start32:
        cli
        cld
        movl %eax, %esi                 /* multiboot magic */
        movl %ebx, %edi                 /* multiboot info */
        lgdt gdt_ptr                    /* 32-bit LGDT reads limit + 32-bit base */
        movl $pml4, %eax
        movl %eax, %cr3
        movl %cr4, %eax
        orl $0x20, %eax                 /* CR4.PAE */
        movl %eax, %cr4
        movl $0xC0000080, %ecx          /* EFER */
        rdmsr
        orl $0x100, %eax                /* EFER.LME */
        wrmsr
        movl %cr0, %eax
        orl $0x80010001, %eax           /* CR0.PG | CR0.WP | CR0.PE */
        movl %eax, %cr0
        ljmp $SEL_CODE64, $from32
        .code64
from32:
        movl $SEL_DATA, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        movl %edi, %edi                 /* upper halves are undefined after the mode switch */
        movl %esi, %esi
        movl $32, %edx
        jmp common64

        .globl _start64
_start64:
        cli
        cld
        movl %eax, %esi                 /* multiboot magic */
        leaq stack_top(%rip), %rsp
        lgdt gdt_ptr(%rip)
        movq $pml4, %rax
        movq %rax, %cr3                 /* our identity map, independent of the VMM's */
        pushq $SEL_CODE64
        leaq 1f(%rip), %rax
        pushq %rax
        lretq
1:      movl $SEL_DATA, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        movl $64, %edx

/* rdi = info, rsi = magic, rdx = entry width */
common64:
        leaq stack_top(%rip), %rsp
        movq %rdi, %r12
        movq %rsi, %r13
        movq %rdx, %r14
        leaq __bss_start(%rip), %rdi
        leaq __bss_end(%rip), %rcx
        subq %rdi, %rcx
        xorl %eax, %eax
        rep stosb
        movq %r13, %rdi                 /* magic */
        movq %r12, %rsi                 /* info */
        movq %r14, %rdx                 /* 32 or 64 */
        call guest_start
2:      cli
        hlt
        jmp 2b

/* ------------------------------------------------------------------------------------------ */
/*
 * Exception stubs: vectors 0..47. Each pushes a dummy error code when the CPU pushes none, then the
 * vector number, so exc_common always sees the same frame (struct ex_regs in desc.c).
 */
        .text
.macro EXC_STUB n
        .globl exc_stub_\n
exc_stub_\n:
        .if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
        .else
        pushq $0
        .endif
        pushq $\n
        jmp exc_common
.endm

        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        EXC_STUB \n
        .endr

/*
 * Return without IRETQ (written because KVM's instruction emulator implements IRET only in real mode;
 * IRETQ was since seen to work under kvm_pvm, and this path is kept as backend-independent). For a
 * same-privilege, same-stack return (every return we do: exceptions at CPL3 are sent back to CPL0 by
 * rewriting the frame, see desc.c), IRETQ's effect is: RSP = saved RSP, RFLAGS = saved RFLAGS, RIP = saved RIP.
 * We store RFLAGS and RIP just below the interrupted RSP (free: no red zone), keep that address in
 * the vector slot (below the hardware frame, so not overlapped), restore the GPRs, switch to it and
 * POPFQ; RETQ.
 */
exc_common:
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, %rdi
        cld
        call exception_handler
        movq 160(%rsp), %rax            /* interrupted RSP */
        subq $16, %rax
        movq 136(%rsp), %rbx            /* RIP (possibly redirected to the fixup) */
        movq 152(%rsp), %rcx            /* RFLAGS */
        movq %rax, 120(%rsp)            /* vector slot := new RSP */
        movq %rbx, 8(%rax)
        movq %rcx, (%rax)
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        movq (%rsp), %rsp
        popfq
        retq

/*
 * u64 run_user_asm(u64 fn, u64 arg, u64 user_stack_top): enter fn(arg) at CPL3 with IRETQ (SDM Vol. 3A
 * §6.14.3; IRETQ to an outer ring works under kvm_pvm). TSS.RSP0 points just below the saved callee-
 * saved registers; any exception at CPL3 (the user side's exit is HLT, which raises #GP at CPL3) lands
 * in exception_handler, which records it and resumes here at user_return on the kernel stack.
 */
        .text
        .globl run_user_asm
run_user_asm:
        pushq %rbx
        pushq %rbp
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, user_kernel_rsp(%rip)
        movq %rsp, tss+4(%rip)          /* TSS.RSP0 */
        subq $8, %rdx
        leaq user_exit_stub(%rip), %rax
        movq %rax, (%rdx)               /* fn returns into the exit stub */
        pushq $0x3b                     /* SS */
        pushq %rdx                      /* RSP */
        pushq $0x2                      /* RFLAGS: IF=0 */
        pushq $0x33                     /* CS */
        pushq %rdi                      /* RIP = fn */
        movq %rsi, %rdi
        iretq
        .globl user_return
user_return:
        movl $SEL_DATA, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movq user_kernel_rsp(%rip), %rsp
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %rbp
        popq %rbx
        ret

        .section .user.text, "ax"
        .globl user_exit_stub
user_exit_stub:
        hlt                             /* #GP at CPL3: the way back to CPL0 */
        jmp user_exit_stub

        .data
        .balign 8
        .globl user_kernel_rsp
user_kernel_rsp:
        .quad 0

/* ------------------------------------------------------------------------------------------ */
        .section .rodata
        .balign 8
        .globl exc_stub_table
exc_stub_table:
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        .quad exc_stub_\n
        .endr

        .data
        .balign 16
        .globl gdt
gdt:
        .quad 0                         /* null */
        .quad 0x00af9a000000ffff        /* 0x08: 64-bit code, DPL0 */
        .quad 0x00cf92000000ffff        /* 0x10: data, DPL0 */
        .quad 0x00cf9a000000ffff        /* 0x18: 32-bit code, DPL0 */
        .quad 0                         /* 0x20: TSS low (filled by desc.c) */
        .quad 0                         /* 0x28: TSS high */
        .quad 0x00affa000000ffff        /* 0x30: 64-bit code, DPL3 (selector 0x33) */
        .quad 0x00cff2000000ffff        /* 0x38: data, DPL3 (selector 0x3b) */
gdt_end:
        .balign 8
        .word 0, 0, 0
        .globl gdt_ptr
gdt_ptr:
        .word gdt_end - gdt - 1
        .quad gdt

/* Identity map of the first 4 GiB with 2-MiB pages: PML4[0] -> PDPT, PDPT[0..3] -> PD0..PD3. */
        .balign 4096
        .globl pml4
pml4:
        .quad pdpt + 0x3                /* P | RW */
        .fill 511, 8, 0
        .globl pdpt
pdpt:
        .quad pd + 0x3
        .quad pd + 0x1000 + 0x3
        .quad pd + 0x2000 + 0x3
        .quad pd + 0x3000 + 0x3
        .fill 508, 8, 0
        .globl pd
pd:
        .set addr, 0
        .rept 2048
        .quad addr + 0x83               /* P | RW | PS */
        .set addr, addr + 0x200000
        .endr

        .section .stack, "aw", @nobits
        .balign 16
        .space 16384
        .globl stack_top
stack_top:
        .space 4096
        .globl df_stack_top
df_stack_top:

        .section .note.GNU-stack, "", @progbits
