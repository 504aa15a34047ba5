; Workload "pf": a page-fault-handling loop. Each iteration clears P in the PTE of PF_PAGE, INVLPGs it
; and loads from it: the load faults (#PF, vector 14, Intel SDM Vol. 3A §6.15 "Interrupt 14"), the
; handler sets P again, drops the error code and IRETs, and the load is restarted and completes.
; Not-present translations are never cached (SDM Vol. 3A §5.10.2.3), so the handler needs no INVLPG.
;
; Checksum: s = N * (PF_VALUE + 0x10001) mod 2^32 (the load's value plus the handler's mark).
; Instruction count (retired; the faulting load is counted once, when it completes):
;   wl_run(N) = K*N + 6,  K = 6 (AND, INVLPG, MOV, ADD, DEC, JNZ) + 4 (handler: OR, ADD, ADD SP, IRET) = 10
;   fixed: MOV, XOR, TEST, JZ, MOV, RET = 6.  One #PF per iteration.
; COUNT: K=10

%define WL_HAS_PF
PF_PAGE  equ 0x5000000
PF_VALUE equ 0x0BADF00D

wl_init:
        mov dword [PF_PAGE], PF_VALUE
        ret

wl_run:
        mov ebp, ecx
        xor esi, esi
        test ebp, ebp
        jz .done
.loop:  and dword [PTE_OF(PF_PAGE)], ~1     ; 1
        invlpg [PF_PAGE]                    ; 2
        mov eax, [PF_PAGE]                  ; 3 (faults once, then completes)
        add esi, eax                        ; 4
        dec ebp                             ; 5
        jnz .loop                           ; 6
.done:  mov eax, esi
        ret

wl_pf:  or dword [PTE_OF(PF_PAGE)], 1       ; h1
        add esi, 0x10001                    ; h2
        add SP, WSZ                         ; h3 error code
        IRET                                ; h4
