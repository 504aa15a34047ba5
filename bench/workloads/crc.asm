; Workload "crc": memory fill + table-driven CRC-32 over 1 MiB per iteration (the reflected CRC-32 of
; ISO-HDLC / IEEE 802.3, polynomial 0xEDB88320; byte-wise table lookup). Stresses loads, stores and
; address arithmetic over megabytes of guest memory.
;
; Iteration `it` (0-based) fills the buffer with dwords v[j] = it + j*0x9E3779B1 (mod 2^32), j < 262144,
; then feeds its 1,048,576 bytes (little-endian) into one running CRC (initial 0xFFFFFFFF, carried over
; iterations, final complement). The table is built by wl_init (start-up).
;
; Instruction count (retired, wl_run):
;   wl_run(N) = K*N + 8,  K = 8 + 5*FILL_DWORDS + 7*CRC_BYTES = 8 + 5*262144 + 7*1048576 = 8650760
;   per iteration: 3 setup + fill loop (5 per dword) + 2 setup + CRC loop (7 per byte) + 3 loop control;
;   fixed: MOV, XOR, MOV, TEST, JZ, MOV, NOT, RET = 8.
; COUNT: K=8650760

CRC_BUF     equ 0x1000000
CRC_TABLE   equ SCRATCH
FILL_DWORDS equ 262144
CRC_BYTES   equ FILL_DWORDS * 4

wl_init:
        xor ebx, ebx
.entry: mov eax, ebx
        mov ecx, 8
.bit:   shr eax, 1
        jnc .nox
        xor eax, 0xEDB88320
.nox:   dec ecx
        jnz .bit
        mov [CRC_TABLE + B*4], eax
        inc ebx
        cmp ebx, 256
        jb .entry
        ret

wl_run:
        mov ebp, ecx
        xor ebx, ebx
        mov edx, 0xFFFFFFFF
        test ebp, ebp
        jz .done
.outer:
        mov edi, CRC_BUF                    ; o1
        mov eax, ebx                        ; o2
        mov esi, FILL_DWORDS                ; o3
.fill:  mov [DI], eax                       ; f1
        add eax, 0x9E3779B1                 ; f2
        add edi, 4                          ; f3
        dec esi                             ; f4
        jnz .fill                           ; f5
        mov edi, CRC_BUF                    ; o4
        mov esi, CRC_BYTES                  ; o5
.crc:   movzx eax, byte [DI]                ; c1
        xor al, dl                          ; c2
        shr edx, 8                          ; c3
        xor edx, [CRC_TABLE + A*4]          ; c4
        inc edi                             ; c5
        dec esi                             ; c6
        jnz .crc                            ; c7
        inc ebx                             ; o6
        cmp ebx, ebp                        ; o7
        jb .outer                           ; o8
.done:  mov eax, edx
        not eax
        ret
