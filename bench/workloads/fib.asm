; Workload "fib": call/return-heavy recursion (Intel SDM Vol. 1 §6.4 "Calling procedures using CALL and
; RET"): naive recursive Fibonacci of FIB_N per iteration, stack width = the mode's (8 or 4 bytes).
;
; fib(n): n < 2 → 3 instructions (CMP, JB, RET); n >= 2 → 12 instructions of its own plus two calls.
; Its call tree has L(n) = F(n+1) leaves and L(n) - 1 inner nodes (F = Fibonacci, F(1) = F(2) = 1), so
;   I_fib(n) = 12*(F(n+1) - 1) + 3*F(n+1);   FIB_N = 20: F(21) = 10946 → I_fib = 164178.
; Instruction count (retired, wl_run):
;   wl_run(N) = K*N + 6,  K = 6 + I_fib(20) = 164184;  fixed: MOV, XOR, TEST, JZ, MOV, RET = 6.
; Checksum: s = rol32(s + F(20), 5) per iteration, from s = 0.
; COUNT: K=164184

FIB_N equ 20

wl_init:
        ret

wl_run:
        mov ebp, ecx
        xor esi, esi
        test ebp, ebp
        jz .done
.outer:
        mov eax, FIB_N                      ; 1
        call fib                            ; 2
        add esi, eax                        ; 3
        rol esi, 5                          ; 4
        dec ebp                             ; 5
        jnz .outer                          ; 6
.done:  mov eax, esi
        ret

; A = n → A = F(n)
fib:    cmp A, 2                            ; 1
        jb .leaf                            ; 2
        push A                              ; 3
        dec A                               ; 4
        call fib                            ; 5
        pop C                               ; 6  C = n
        push A                              ; 7  F(n-1)
        lea A, [C - 2]                      ; 8
        call fib                            ; 9
        pop C                               ; 10
        add A, C                            ; 11
        ret                                 ; 12
.leaf:  ret                                 ; 3 (leaf)
