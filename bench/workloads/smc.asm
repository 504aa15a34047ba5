; Workload "smc": self-modifying code. Each iteration stores a new immediate into a MOV instruction on
; its own page and then calls it; the store must be seen by the following fetch (Intel SDM Vol. 3A
; §11.6 "Self-Modifying Code"), so every iteration invalidates whatever an emulator cached for that page.
;
; Checksum: s = rol32(s + (n ^ 0x5A5A5A5A), 7) for n = N, N-1, …, 1, from s = 0.
; Instruction count (retired, wl_run):
;   wl_run(N) = K*N + 6,  K = 6 (MOV store, CALL, ADD, ROL, DEC, JNZ) + 3 (patched MOV, XOR, RET) = 9
;   fixed: MOV, XOR, TEST, JZ, MOV, RET = 6.
; COUNT: K=9

wl_init:
        ret

wl_run:
        mov ebp, ecx
        xor esi, esi
        test ebp, ebp
        jz .done
.loop:  mov [smc_imm], ebp                  ; 1
        call smc_target                     ; 2
        add esi, eax                        ; 3
        rol esi, 7                          ; 4
        dec ebp                             ; 5
        jnz .loop                           ; 6
.done:  mov eax, esi
        ret

        align 4096
smc_target:
        db 0xB8                             ; MOV EAX, imm32
smc_imm:
        dd 0
        xor eax, 0x5A5A5A5A
        ret
        align 4096
