; Workload "pagewalk": page-walk-heavy scattered loads after a CR3 reload. A MOV to CR3 invalidates all
; non-global TLB entries (Intel SDM Vol. 3A §5.10.4.1), so each of the TOUCHES loads that follows walks
; the paging structures (4 levels in the 64-bit build, 2 in the 32-bit build) over a 32 MiB region of
; 8192 4-KiB pages.
;
; wl_init writes val(p) = p * 0x01000193 (mod 2^32) at the start of page p (start-up). Page sequence:
; p0 = 0, p(k+1) = (p(k) + 2477) mod 8192, continued across iterations; checksum = sum of val(p) mod 2^32.
; Instruction count (retired, wl_run):
;   wl_run(N) = K*N + 7,  K = 5 + 7*TOUCHES = 5 + 7*256 = 1797
;   per iteration: MOV from CR3, MOV to CR3, MOV + 256 × 7-instruction body + DEC, JNZ;
;   fixed: MOV, XOR, XOR, TEST, JZ, MOV, RET = 7.
; COUNT: K=1797

PW_BASE   equ 0x2000000
PW_PAGES  equ 8192
PW_STRIDE equ 2477
TOUCHES   equ 256

wl_init:
        xor ebx, ebx
        mov edi, PW_BASE
.fill:  mov eax, ebx
        imul eax, eax, 0x01000193
        mov [DI], eax
        add edi, 4096
        inc ebx
        cmp ebx, PW_PAGES
        jb .fill
        ret

wl_run:
        mov ebp, ecx
        xor esi, esi
        xor ebx, ebx
        test ebp, ebp
        jz .done
.outer:
        mov A, cr3                          ; 1
        mov cr3, A                          ; 2
        mov edi, TOUCHES                    ; 3
.inner: mov eax, ebx                        ; i1
        shl eax, 12                         ; i2
        add esi, [PW_BASE + A]              ; i3
        add ebx, PW_STRIDE                  ; i4
        and ebx, PW_PAGES - 1               ; i5
        dec edi                             ; i6
        jnz .inner                          ; i7
        dec ebp                             ; 4
        jnz .outer                          ; 5
.done:  mov eax, esi
        ret
