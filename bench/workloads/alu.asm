; Workload "alu": integer ALU throughput, register-only (Intel SDM Vol. 2 ADD, XOR, ROL, LEA, SUB, MOV,
; SHL, NOT, IMUL, DEC, Jcc). Native operand width: 64-bit registers in the 64-bit build, 32-bit in the
; 32-bit build; the JS reference is bench/harness/checksums.ts aluChecksum().
;
; Instruction count (retired, from the call to the RET):
;   wl_run(N) = 12*N + 10 + (BITS64 ? 3 : 0)
;   per iteration (the loop body): 12;  fixed: 4 seeds + TEST + JZ + 3 XOR folds + RET = 10,
;   plus MOV/SHR/XOR folding the high half in 64-bit mode.
; Checksum: state (a, b, d, si) after N iterations of the body, folded a ^ b ^ d ^ si (64-bit: the two
; halves XORed).
; COUNT: K=12

wl_init:
        ret

wl_run:
%ifdef BITS64
        mov rax, 0x0123456789ABCDEF
        mov rbx, 0x0F1E2D3C4B5A6978
        mov rdx, 0x1122334455667788
        mov rsi, 0x7766554433221100
%else
        mov eax, 0x89ABCDEF
        mov ebx, 0x4B5A6978
        mov edx, 0x55667788
        mov esi, 0x33221100
%endif
        test ecx, ecx
        jz .done
.loop:
        add A, B                            ; 1
        xor D, A                            ; 2
        rol D, 13                           ; 3
        lea SI, [SI + D*8 + 0x1234567]      ; 4
        sub B, SI                           ; 5
        mov DI, A                           ; 6
        shl DI, 7                           ; 7
        xor B, DI                           ; 8
        not D                               ; 9
        imul A, A, 0x2545F491               ; 10
        dec ecx                             ; 11
        jnz .loop                           ; 12
.done:
        xor A, B
        xor A, D
        xor A, SI
%ifdef BITS64
        mov rdx, rax
        shr rdx, 32
        xor eax, edx
%endif
        ret
