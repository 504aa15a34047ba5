; Workload "syscall": ring 3 → ring 0 → ring 3 round trips through the fast system-call instructions.
; 64-bit build: SYSCALL / SYSRET (Intel SDM Vol. 3A §5.8.8; IA32_STAR/LSTAR/FMASK, EFER.SCE).
; 32-bit build: SYSENTER / SYSEXIT (SDM Vol. 3A §5.8.7; IA32_SYSENTER_CS/ESP/EIP) — SYSCALL is not
; available in 32-bit protected mode on Intel CPUs.
; The kernel side adds the user's argument (the remaining count n) into the checksum:
;   s = rol32(s + n, 3) for n = N, N-1, …, 1, from s = 0.
; A final call with EAX = -1 returns to the kernel for good (wl_run's RET).
;
; Instruction count (retired, wl_run):
;   64-bit: wl_run(N) = 9*N + 18;  per round trip: MOV, SYSCALL, DEC, JNZ (user) + CMP, JE, ADD, ROL,
;           SYSRET (kernel) = 9.  Fixed: 9 to get to ring 3 (MOV, MOV, XOR, 5 PUSH, IRETQ), TEST, JZ,
;           MOV, SYSCALL, CMP, JE, MOV, MOV, RET = 18.
;   32-bit: wl_run(N) = 11*N + 21;  per round trip: MOV, MOV, MOV, SYSENTER, DEC, JNZ + CMP, JE, ADD,
;           ROL, SYSEXIT = 11.  Fixed: 12 to get to ring 3 (MOV, MOV, XOR, MOV, MOV DS, MOV ES, 5 PUSH,
;           IRETD), TEST, JZ, MOV, SYSENTER, CMP, JE, MOV, MOV, RET = 21.
; COUNT: K64=9 K32=11

%ifdef BITS64
wl_init:
        mov ecx, 0xC0000081                 ; IA32_STAR
        xor eax, eax
        mov edx, (0x10 << 16) | SEL_KCODE64 ; SYSRET base 0x10 (SS 0x1B, CS 0x23), SYSCALL CS 0x08
        wrmsr
        mov ecx, 0xC0000082                 ; IA32_LSTAR
        mov eax, sys_entry
        xor edx, edx
        wrmsr
        mov ecx, 0xC0000084                 ; IA32_FMASK
        xor eax, eax
        xor edx, edx
        wrmsr
        ret

wl_run:
        mov [saved_sp], rsp
        mov ebx, ecx
        xor r13d, r13d
        push SEL_UDATA64 | 3                ; SS
        push USER_STACK                     ; RSP
        push 2                              ; RFLAGS
        push SEL_UCODE64 | 3                ; CS
        push user_entry                     ; RIP
        iretq
user_entry:
        test ebx, ebx
        jz .exit
.loop:  mov eax, ebx                        ; 1
        syscall                             ; 2
        dec ebx                             ; 3
        jnz .loop                           ; 4
.exit:  mov eax, -1
        syscall

sys_entry:
        cmp eax, -1                         ; 5
        je .leave                           ; 6
        add r13d, eax                       ; 7
        rol r13d, 3                         ; 8
        o64 sysret                          ; 9
.leave: mov rsp, [saved_sp]
        mov eax, r13d
        ret
%else
wl_init:
        mov ecx, 0x174                      ; IA32_SYSENTER_CS
        mov eax, SEL_KCODE32
        xor edx, edx
        wrmsr
        mov ecx, 0x175                      ; IA32_SYSENTER_ESP
        mov eax, KSTACK - 0x1000
        wrmsr
        mov ecx, 0x176                      ; IA32_SYSENTER_EIP
        mov eax, sys_entry
        wrmsr
        ret

wl_run:
        mov [saved_sp], esp
        mov ebx, ecx
        xor ebp, ebp
        mov ax, SEL_UDATA32 | 3             ; DPL3 data so IRET keeps DS/ES and ring 0 can use them too
        mov ds, ax
        mov es, ax
        push SEL_UDATA32 | 3                ; SS
        push USER_STACK                     ; ESP
        push 2                              ; EFLAGS
        push SEL_UCODE32 | 3                ; CS
        push user_entry                     ; EIP
        iretd
user_entry:
        test ebx, ebx
        jz .exit
.loop:  mov eax, ebx                        ; 1
        mov ecx, esp                        ; 2  SYSEXIT: ESP ← ECX
        mov edx, .back                      ; 3  SYSEXIT: EIP ← EDX
        sysenter                            ; 4
.back:  dec ebx                             ; 5
        jnz .loop                           ; 6
.exit:  mov eax, -1
        sysenter

sys_entry:
        cmp eax, -1                         ; 7
        je .leave                           ; 8
        add ebp, eax                        ; 9
        rol ebp, 3                          ; 10
        sysexit                             ; 11
.leave: mov esp, [saved_sp]
        mov eax, ebp
        ret
%endif
