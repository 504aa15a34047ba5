; Workload "portio": port I/O exits. Per iteration: OUT to the POST port 0x80, OUT to the 16550 UART's
; scratch register (COM1 + 7) and IN from it (a register every 16550 model keeps: PC16550D data sheet,
; "Scratchpad Register"), so the checksum depends on the device answering.
;
; Checksum: s = rol32(s + (n & 0xFF), 1) for n = N, N-1, …, 1, from s = 0.
; Instruction count (retired, wl_run):
;   wl_run(N) = K*N + 7,  K = 9 (MOV, OUT, OUT, XOR, IN, ADD, ROL, DEC, JNZ), 3 port accesses each;
;   fixed: MOV, XOR, MOV, TEST, JZ, MOV, RET = 7.
; COUNT: K=9

wl_init:
        ret

wl_run:
        mov ebp, ecx
        xor esi, esi
        mov edx, COM1 + 7
        test ebp, ebp
        jz .done
.loop:  mov eax, ebp                        ; 1
        out 0x80, al                        ; 2
        out dx, al                          ; 3
        xor eax, eax                        ; 4
        in al, dx                           ; 5
        add esi, eax                        ; 6
        rol esi, 1                          ; 7
        dec ebp                             ; 8
        jnz .loop                           ; 9
.done:  mov eax, esi
        ret
