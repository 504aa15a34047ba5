/*
 * The reproducible initramfs's /init: a static, freestanding x86-64 Linux program (System V AMD64
 * ABI entry: RSP points at argc; Linux syscall ABI: number in RAX, arguments in RDI, RSI, RDX, R10,
 * R8, R9, `syscall`, result in RAX, -errno on failure; numbers from arch/x86/entry/syscalls/
 * syscall_64.tbl). Built with -nostdlib -static -mno-sse -fno-pic (build-initramfs.mjs), so it needs
 * no libc and executes no SSE instruction.
 *
 * It prints TSVMM-INIT-OK on the console (fd 1, which the kernel opens on /dev/console before running
 * /init; if that fails it opens /dev/console itself), then powers the machine off with
 * reboot(LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF) — include/uapi/linux/
 * reboot.h. If the power-off returns, it exits (the kernel then panics: "Attempted to kill init").
 */

#define SYS_write 1
#define SYS_open 2
#define SYS_exit 60
#define SYS_sync 162
#define SYS_reboot 169

#define O_RDWR 2
#define O_NOCTTY 0400

#define LINUX_REBOOT_MAGIC1 0xfee1deadUL
#define LINUX_REBOOT_MAGIC2 672274793UL /* 0x28121969 */
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedcUL

static long syscall3(long n, long a, long b, long c) {
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
	return ret;
}

static long syscall4(long n, long a, long b, long c, long d) {
	long ret;
	register long r10 __asm__("r10") = d;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
	return ret;
}

static const char message[] = "TSVMM-INIT-OK\n";

static long write_all(long fd, const char *p, long n) {
	while (n > 0) {
		long r = syscall3(SYS_write, fd, (long)p, n);
		if (r < 0) return r;
		p += r;
		n -= r;
	}
	return 0;
}

__attribute__((noreturn, used)) void tsvmm_init_main(void) {
	if (write_all(1, message, sizeof message - 1) < 0) {
		long fd = syscall3(SYS_open, (long)"/dev/console", O_RDWR | O_NOCTTY, 0);
		if (fd >= 0) write_all(fd, message, sizeof message - 1);
	}
	syscall3(SYS_sync, 0, 0, 0);
	syscall4(SYS_reboot, (long)LINUX_REBOOT_MAGIC1, (long)LINUX_REBOOT_MAGIC2, (long)LINUX_REBOOT_CMD_POWER_OFF, 0);
	for (;;) syscall3(SYS_exit, 1, 0, 0);
}

/* Process entry: align the stack as a call would, then run main. */
__asm__(
	".globl _start\n"
	".type _start, @function\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	call tsvmm_init_main\n"
	"	hlt\n");
