// Test helper: a minimal synthetic Linux bzImage (Linux Documentation/arch/x86/boot.rst, "The Real-Mode
// Kernel Header"): setup sectors carrying a 2.15 setup header, then a protected-mode "kernel" whose
// first bytes are the caller's 64-bit entry code (the 64-bit entry is at load address + 0x200).

import { setField } from '../layout/struct.ts';
import { BOOT_FLAG, HDRS_MAGIC, LoadFlags, SETUP_HEADER, XLoadFlags } from '../linux/bzimage.ts';

/** `entry64` lands at kernel offset 0x200; the rest of the kernel is padding (0xF4 = HLT). */
export function syntheticBzImage(
  entry64: Uint8Array = new Uint8Array([0xf4]),
  initSize = 0x100000,
): Uint8Array {
  const setupSects = 4;
  const kernelBytes = 0x1000;
  const b = new Uint8Array((setupSects + 1) * 512 + kernelBytes);
  const dv = new DataView(b.buffer);
  const s = (k: keyof typeof SETUP_HEADER, v: number | bigint): void => setField(dv, 0, SETUP_HEADER, k, v);
  s('setup_sects', setupSects);
  s('syssize', Math.ceil(kernelBytes / 16));
  s('boot_flag', BOOT_FLAG);
  b[0x200] = 0xeb;
  b[0x201] = 0x6a;
  s('header', HDRS_MAGIC);
  s('version', 0x020f);
  s('loadflags', LoadFlags.LOADED_HIGH);
  s('initrd_addr_max', 0x7fffffff);
  s('kernel_alignment', 0x200000);
  s('relocatable_kernel', 1);
  s('xloadflags', XLoadFlags.KERNEL_64 | XLoadFlags.CAN_BE_LOADED_ABOVE_4G);
  s('cmdline_size', 2047);
  s('pref_address', 0x1000000n);
  s('init_size', initSize);
  const kernel = (setupSects + 1) * 512;
  b.fill(0xf4, kernel);
  b.set(entry64, kernel + 0x200);
  return b;
}
