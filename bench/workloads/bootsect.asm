; The disk wrapper's boot sector: BIOS boot (the BIOS loads sector 0 to 0x7C00 and jumps to it in real
; mode with DL = boot drive), INT 13h AH=42h extended reads (EDD 3.0 disk address packet) of the payload
; from LBA 1 to 0x10000, A20 through system control port A (0x92), a flat GDT, CR0.PE (Intel SDM
; Vol. 3A §10.9 "Mode Switching"), a copy of the payload to its load address and a jump to its 32-bit
; entry in the Multiboot machine state (EAX = 0x2BADB002, flat 32-bit segments, paging off). The
; payload (rt.asm) then goes on to long mode itself for the 64-bit workloads.
;
; Build: nasm -f bin -D PAYLOAD_SECTORS=n -D LOAD_ADDR=a -D ENTRY32=e bootsect.asm

%ifndef PAYLOAD_SECTORS
%error "PAYLOAD_SECTORS, LOAD_ADDR and ENTRY32 must be defined"
%endif
%if PAYLOAD_SECTORS > 1100
%error "payload larger than the 0x10000-0x9FFFF bounce buffer"
%endif

BOUNCE      equ 0x10000
CHUNK       equ 32                          ; sectors per INT 13h call (16 KiB: stays inside a 64 KiB segment step)

        org 0x7C00
        BITS 16
start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7C00
        mov [drive], dl
        mov word [dap_seg], BOUNCE >> 4
        mov dword [dap_lba], 1
        mov word [left], PAYLOAD_SECTORS
.read:  mov ax, [left]
        test ax, ax
        jz .loaded
        cmp ax, CHUNK
        jbe .n
        mov ax, CHUNK
.n:     mov [dap_count], ax
        mov si, dap
        mov ah, 0x42
        mov dl, [drive]
        int 0x13
        jc .fail
        mov ax, [dap_count]
        sub [left], ax
        add [dap_lba], ax
        shl ax, 5                           ; sectors → paragraphs (512 / 16)
        add [dap_seg], ax
        jmp .read

.fail:  mov si, msg_fail
.puts:  lodsb
        test al, al
        jz .stop
        mov dx, 0x3F8
        out dx, al
        jmp .puts
.stop:  hlt
        jmp .stop

.loaded:
        in al, 0x92                         ; fast A20
        or al, 2
        and al, 0xFE
        out 0x92, al
        lgdt [gdt_desc]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        jmp 0x08:pm32

        BITS 32
pm32:   mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov esp, 0x7C00
        mov esi, BOUNCE
        mov edi, LOAD_ADDR
        mov ecx, PAYLOAD_SECTORS * 128
        cld
        rep movsd
        mov eax, 0x2BADB002
        xor ebx, ebx
        mov ecx, ENTRY32
        jmp ecx

        align 8
gdt:    dq 0
        dq 0x00CF9A000000FFFF               ; 0x08 code 32-bit flat
        dq 0x00CF92000000FFFF               ; 0x10 data flat
gdt_desc:
        dw gdt_desc - gdt - 1
        dd gdt

dap:    db 16, 0                            ; packet size, reserved
dap_count:
        dw 0
        dw 0                                ; buffer offset
dap_seg:
        dw 0
dap_lba:
        dq 0
drive:  db 0
left:   dw 0
msg_fail:
        db 'BENCH-FAULT disk read failed', 10, 0

        times 510 - ($ - $$) db 0
        dw 0xAA55
