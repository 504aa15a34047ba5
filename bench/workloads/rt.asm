; Benchmark runtime: the one image every workload is linked into (nasm -f bin, no linker).
; Formats and state it relies on: ELF-64 header + one PT_LOAD (System V gABI ch. 4-5), Multiboot 0.6.96
; §3.1 header with the a.out kludge (flag 16), the multiboot32 machine state (§3.2), IA-32e mode
; activation (Intel SDM Vol. 3A §10.8.5 "Initializing IA-32e Mode"), 4-level and 2-level paging
; (SDM Vol. 3A §5.3, §5.5), IDT gate descriptors (SDM Vol. 3A §6.11, §6.14.1), SYSCALL/SYSENTER MSRs
; (SDM Vol. 3A §5.8.7-5.8.8).
;
; Build: nasm -f bin -D BITS64|BITS32 -D WL_FILE='"alu.asm"' -D WL_NAME='"alu64"' rt.asm
;
; One file, three ways in, one way out:
;   * as an ELF64 whose e_entry = entry64: tsvmm's `long64` entry (64-bit mode already on);
;   * as a multiboot kernel with the a.out kludge (QEMU -kernel and tsvmm `multiboot32` use the kludge,
;     so QEMU's refusal of ELF64 multiboot images does not apply): entry32, 32-bit flat, paging off;
;   * as the payload of the disk image: bootsect.asm copies the whole file to LOAD_ADDR and jumps to
;     entry32 in the same state.
; entry32 builds the page tables and either enables paging (BITS32) or enters long mode (BITS64);
; entry64 builds the same tables and switches CR3 to them. Both then run:
;     wl_init;  print "BENCH-GO";  t0 = RDTSC;  eax = wl_run(ecx = iterations);  t1 = RDTSC;  report
; (runners that see output as it comes time the work from the BENCH-GO line to the result line, which
; leaves firmware and loader start-up out) and report with one line on COM1 and on port 0xE9:
;     BENCH <name> iters=<hex8> sum=<hex8> tsc=<hex16>\n
; then exit through isa-debug-exit (port 0xF4, QEMU / tsvmm), Bochs' shutdown port (0x8900) and
; finally CLI; HLT (v86: the runner stops it when the line has arrived).
;
; The iteration count lives in the parameter block (PARAM_MAGIC "TSVMBNCH" then a dword); the runner
; patches that dword in a copy of the image or disk (bench/harness/image.ts), so one build serves every
; iteration count and the zero-iteration run measures start-up.
;
; Physical memory used (guest RAM must be >= 128 MiB; the runner gives 256 MiB):
;   0x070000  user stack top (ring-3 workloads)     0x080000  kernel stack top
;   0x100000  this image (LOAD_ADDR)                0x200000  page tables (identity map of 0-128 MiB,
;                                                             4 KiB pages, U/S=1 everywhere)
;   0x300000  scratch tables of the workloads       0x1000000+ workload buffers

%ifdef BITS64
%elifdef BITS32
%else
%error "define BITS64 or BITS32"
%endif

LOAD_ADDR      equ 0x100000
USER_STACK     equ 0x70000
KSTACK         equ 0x80000
PT_AREA        equ 0x200000
MAP_BYTES      equ 128 * 1024 * 1024
MAP_PAGES      equ MAP_BYTES / 4096
SCRATCH        equ 0x300000
COM1           equ 0x3F8
DEBUG_EXIT     equ 0xF4

; 64-bit layout: PML4 @PT_AREA, PDPT +0x1000, PD +0x2000 (64 entries), PTs +0x3000 (64 tables)
; 32-bit layout: PD @PT_AREA (32 entries), PTs +0x1000 (32 tables)
%ifdef BITS64
PML4           equ PT_AREA
PDPT           equ PT_AREA + 0x1000
PD64           equ PT_AREA + 0x2000
PT_BASE        equ PT_AREA + 0x3000
PTE_SIZE       equ 8
%define A rax
%define B rbx
%define C rcx
%define D rdx
%define SI rsi
%define DI rdi
%define BP rbp
%define SP rsp
%define WSZ 8
%define IRET iretq
%else
PD32           equ PT_AREA
PT_BASE        equ PT_AREA + 0x1000
PTE_SIZE       equ 4
%define A eax
%define B ebx
%define C ecx
%define D edx
%define SI esi
%define DI edi
%define BP ebp
%define SP esp
%define WSZ 4
%define IRET iretd
%endif
; address of the page-table entry that maps the (identity-mapped) virtual address va
%define PTE_OF(va) (PT_BASE + ((va) >> 12) * PTE_SIZE)

; GDT selectors (gdt below)
SEL_KCODE64    equ 0x08
SEL_KDATA      equ 0x10
SEL_UDATA64    equ 0x18     ; SYSRET SS = STAR[63:48] + 8
SEL_UCODE64    equ 0x20     ; SYSRET CS = STAR[63:48] + 16
SEL_KCODE32    equ 0x28     ; IA32_SYSENTER_CS
SEL_KDATA32    equ 0x30     ;   SYSENTER SS  = CS + 8
SEL_UCODE32    equ 0x38     ;   SYSEXIT  CS  = CS + 16
SEL_UDATA32    equ 0x40     ;   SYSEXIT  SS  = CS + 24

        org LOAD_ADDR
; ---------------------------------------------------------------------------------------------------
; ELF64 header (gABI): one PT_LOAD, file offset 0 → LOAD_ADDR, the whole file, RWX.
elf_header:
        db 0x7F, 'ELF', 2, 1, 1, 0          ; ELFCLASS64, little-endian, EV_CURRENT, SYSV
        times 8 db 0
        dw 2                                ; e_type ET_EXEC
        dw 62                               ; e_machine EM_X86_64
        dd 1                                ; e_version
        dq entry64                          ; e_entry
        dq phdr - elf_header                ; e_phoff
        dq 0                                ; e_shoff
        dd 0                                ; e_flags
        dw 64                               ; e_ehsize
        dw 56                               ; e_phentsize
        dw 1                                ; e_phnum
        dw 0, 0, 0                          ; e_shentsize, e_shnum, e_shstrndx
phdr:
        dd 1                                ; p_type PT_LOAD
        dd 7                                ; p_flags RWX
        dq 0                                ; p_offset
        dq LOAD_ADDR                        ; p_vaddr
        dq LOAD_ADDR                        ; p_paddr
        dq image_end - LOAD_ADDR            ; p_filesz
        dq image_end - LOAD_ADDR            ; p_memsz
        dq 0x1000                           ; p_align

; Multiboot header (§3.1.1): flags = page-align (0) | memory info (1) | a.out kludge (16)
        align 4
MB_FLAGS equ (1 << 0) | (1 << 1) | (1 << 16)
mb_header:
        dd 0x1BADB002
        dd MB_FLAGS
        dd -(0x1BADB002 + MB_FLAGS)
        dd mb_header                        ; header_addr
        dd LOAD_ADDR                        ; load_addr
        dd image_end                        ; load_end_addr
        dd 0                                ; bss_end_addr: none
        dd entry32                          ; entry_addr

; Parameter block: the runner patches `iterations`.
        align 8
param_block:
        db 'TSVMBNCH'
iterations:
        dd 0
bench_name:
        db WL_NAME, 0

        align 16
gdt:
        dq 0
        dq 0x00AF9A000000FFFF               ; 0x08 kernel code, 64-bit (L=1)
        dq 0x00CF92000000FFFF               ; 0x10 kernel data, flat
        dq 0x00CFF2000000FFFF               ; 0x18 user data, flat, DPL3
        dq 0x00AFFA000000FFFF               ; 0x20 user code, 64-bit, DPL3
        dq 0x00CF9A000000FFFF               ; 0x28 kernel code, 32-bit flat
        dq 0x00CF92000000FFFF               ; 0x30 kernel data, flat (SYSENTER SS)
        dq 0x00CFFA000000FFFF               ; 0x38 user code, 32-bit flat, DPL3
        dq 0x00CFF2000000FFFF               ; 0x40 user data, flat, DPL3
gdt_end:
gdt_desc:
        dw gdt_end - gdt - 1
        dq gdt                              ; LGDT in 32-bit mode reads the low 4 bytes of the base

t0:     dq 0
tdelta: dq 0
result: dd 0
saved_sp: dq 0

; ---------------------------------------------------------------------------------------------------
; build_paging: identity-map 0..MAP_BYTES with 4 KiB pages, P|RW|US (A/D left to the CPU).
; Written with 32-bit registers and explicit addresses so it assembles in both code sizes.
%macro BUILD_PAGING 0
%ifdef BITS64
        ; zero PML4, PDPT, PD
        mov edi, PT_AREA
        xor eax, eax
%%z:    mov dword [edi], eax
        add edi, 4
        cmp edi, PT_BASE
        jb %%z
        mov dword [PML4], PDPT | 7
        mov dword [PDPT], PD64 | 7
        ; 64 PDEs, each → one PT
        mov edi, PD64
        mov eax, PT_BASE | 7
        mov ecx, MAP_PAGES / 512
%%pd:   mov dword [edi], eax
        mov dword [edi + 4], 0
        add eax, 0x1000
        add edi, 8
        dec ecx
        jnz %%pd
        ; PTEs
        mov edi, PT_BASE
        mov eax, 7
        mov ecx, MAP_PAGES
%%pt:   mov dword [edi], eax
        mov dword [edi + 4], 0
        add eax, 0x1000
        add edi, 8
        dec ecx
        jnz %%pt
%else
        mov edi, PD32
        mov eax, PT_BASE | 7
        mov ecx, 1024
        xor edx, edx
%%pd:   cmp edx, MAP_PAGES / 1024
        jb %%present
        mov dword [edi], 0
        jmp %%next
%%present:
        mov dword [edi], eax
%%next: add eax, 0x1000
        add edi, 4
        inc edx
        dec ecx
        jnz %%pd
        mov edi, PT_BASE
        mov eax, 7
        mov ecx, MAP_PAGES
%%pt:   mov dword [edi], eax
        add eax, 0x1000
        add edi, 4
        dec ecx
        jnz %%pt
%endif
%endmacro

; ---------------------------------------------------------------------------------------------------
        BITS 32
entry32:
        cli
        lgdt [gdt_desc]
        jmp SEL_KCODE32:.cs32
.cs32:  mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, KSTACK
        BUILD_PAGING
%ifdef BITS64
        mov eax, cr4
        or eax, 1 << 5                      ; PAE
        mov cr4, eax
        mov eax, PML4
        mov cr3, eax
        mov ecx, 0xC0000080                 ; IA32_EFER
        rdmsr
        or eax, (1 << 8) | (1 << 0)         ; LME | SCE
        wrmsr
        mov eax, cr0
        or eax, 0x80000001                  ; PG | PE
        mov cr0, eax
        jmp SEL_KCODE64:rt_common64
%else
        mov eax, PD32
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000001
        mov cr0, eax
        jmp rt_common
%endif

; ---------------------------------------------------------------------------------------------------
        BITS 64
entry64:
        cli
%ifdef BITS64
        mov rsp, KSTACK
        BUILD_PAGING
        lgdt [gdt_desc]
        push SEL_KCODE64
        lea rax, [rel .cs64]
        push rax
        retfq
.cs64:  mov eax, PML4
        mov cr3, rax
        mov ecx, 0xC0000080
        rdmsr
        or eax, 1 << 0                      ; SCE
        wrmsr
        jmp rt_common64
%else
        ; a 32-bit workload entered in 64-bit mode: not supported, say so and stop
        mov al, 'X'
        mov dx, COM1
        out dx, al
        mov al, 3
        out DEBUG_EXIT, al
        hlt
%endif

%ifdef BITS64
rt_common64:
        mov ax, SEL_KDATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov rsp, KSTACK
        jmp rt_common
%endif

; ---------------------------------------------------------------------------------------------------
; From here on the code is assembled for the workload's mode.
%ifdef BITS64
        BITS 64
%else
        BITS 32
%endif

; IDT: 32 exception gates → fault_handler, #PF → wl_pf when the workload has one.
%ifdef BITS64
IDT_ENTRY equ 16
%else
IDT_ENTRY equ 8
%endif
%macro SET_GATE 2                            ; vector, handler
        mov eax, %2
        mov edi, idt + %1 * IDT_ENTRY
        mov word [DI], ax
%ifdef BITS64
        mov word [DI + 2], SEL_KCODE64
%else
        mov word [DI + 2], SEL_KCODE32
%endif
        mov word [DI + 4], 0x8E00           ; present, DPL0, interrupt gate
        shr eax, 16
        mov word [DI + 6], ax
%ifdef BITS64
        mov dword [DI + 8], 0
        mov dword [DI + 12], 0
%endif
%endmacro

; ---------------------------------------------------------------------------------------------------
; The workload: defines wl_init (start-up, untimed) and wl_run (ECX = iterations → EAX = checksum),
; and wl_pf with WL_HAS_PF when it handles #PF itself.
; It sits here (after an unconditional jump) so its %defines are seen by the code below.
%include WL_FILE

rt_common:
        xor ebx, ebx
.gates: mov eax, ebx
        imul eax, eax, IDT_ENTRY
        lea edi, [eax + idt]
        mov eax, fault_handler
        mov word [DI], ax
%ifdef BITS64
        mov word [DI + 2], SEL_KCODE64
        mov dword [DI + 8], 0
        mov dword [DI + 12], 0
%else
        mov word [DI + 2], SEL_KCODE32
%endif
        mov word [DI + 4], 0x8E00
        shr eax, 16
        mov word [DI + 6], ax
        inc ebx
        cmp ebx, 32
        jb .gates
%ifdef WL_HAS_PF
        SET_GATE 14, wl_pf
%endif
        lidt [idt_desc]

        call wl_init
        mov esi, msg_go                     ; start mark: runners time from this line to the result line
        call puts
        mov ecx, [iterations]
        rdtsc
        mov [t0], eax
        mov [t0 + 4], edx
        mov ecx, [iterations]
        call wl_run
        mov esi, eax
        rdtsc
        sub eax, [t0]
        sbb edx, [t0 + 4]
        mov [tdelta], eax
        mov [tdelta + 4], edx
        mov [result], esi
%ifdef BITS64
        mov ax, SEL_KDATA
%else
        mov ax, SEL_KDATA
%endif
        mov ds, ax
        mov es, ax

        mov esi, msg_bench
        call puts
        mov esi, bench_name
        call puts
        mov esi, msg_iters
        call puts
        mov eax, [iterations]
        call puthex32
        mov esi, msg_sum
        call puts
        mov eax, [result]
        call puthex32
        mov esi, msg_tsc
        call puts
        mov eax, [tdelta + 4]
        call puthex32
        mov eax, [tdelta]
        call puthex32
        mov al, 10
        call putc
        mov al, 0
exit:   out DEBUG_EXIT, al                  ; QEMU isa-debug-exit / tsvmm: exit status (al << 1) | 1
        mov esi, msg_shutdown               ; Bochs: "Shutdown" to port 0x8900 ends the simulation
        mov dx, 0x8900
.sd:    mov al, [SI]
        test al, al
        jz .halt
        out dx, al
        inc esi
        jmp .sd
.halt:  cli
        hlt
        jmp .halt

; any exception the workload did not expect: print the vector-less fault report and exit with 2
fault_handler:
        mov esi, msg_fault
        call puts
        mov A, cr2
        call puthex32
        mov al, ' '
        call putc
        mov A, [SP]                         ; error code or RIP/EIP
        call puthex32
        mov al, ' '
        call putc
        mov A, [SP + WSZ]
        call puthex32
        mov al, 10
        call putc
        mov al, 2
        jmp exit

; putc: AL to COM1 (waiting for THR empty, LSR bit 5) and to port 0xE9 (Bochs' e9 hack)
putc:   push D
        push A
        mov dx, COM1 + 5
.wait:  in al, dx
        test al, 0x20
        jz .wait
        pop A
        mov dx, COM1
        out dx, al
        out 0xE9, al
        pop D
        ret

; puts: NUL-terminated string at [esi/rsi]
puts:   mov al, [SI]
        test al, al
        jz .done
        call putc
        inc esi
        jmp puts
.done:  ret

; puthex32: EAX as 8 hex digits
puthex32:
        push C
        push B
        mov ebx, eax
        mov ecx, 8
.digit: rol ebx, 4
        mov eax, ebx
        and eax, 15
        mov al, [hexdigits + A]
        call putc
        dec ecx
        jnz .digit
        pop B
        pop C
        ret

hexdigits:    db '0123456789abcdef'
msg_go:       db 'BENCH-GO', 10, 0
msg_bench:    db 'BENCH ', 0
msg_iters:    db ' iters=', 0
msg_sum:      db ' sum=', 0
msg_tsc:      db ' tsc=', 0
msg_fault:    db 'BENCH-FAULT cr2=', 0
msg_shutdown: db 'Shutdown', 0

        align 16
idt:    times 32 * IDT_ENTRY db 0
idt_desc:
        dw 32 * IDT_ENTRY - 1
        dq idt


        align 16
image_end:
