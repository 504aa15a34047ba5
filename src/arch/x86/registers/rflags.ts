// RFLAGS: Intel SDM Vol. 1 §3.4.3 (Figure 3-8) and Vol. 3A §2.3 "System Flags and Fields in EFLAGS".

import { maskOf, masksByName, type RegisterBit } from './bits.ts';

export const RFLAGS_BITS = [
  { name: 'CF', bit: 0, doc: 'SDM 1 §3.4.3.1: carry' },
  { name: 'FIXED1', bit: 1, doc: 'SDM 1 §3.4.3: reserved, always 1' },
  { name: 'PF', bit: 2, doc: 'SDM 1 §3.4.3.1: parity' },
  { name: 'AF', bit: 4, doc: 'SDM 1 §3.4.3.1: auxiliary carry' },
  { name: 'ZF', bit: 6, doc: 'SDM 1 §3.4.3.1: zero' },
  { name: 'SF', bit: 7, doc: 'SDM 1 §3.4.3.1: sign' },
  { name: 'TF', bit: 8, doc: 'SDM 3A §2.3: trap (single step)' },
  { name: 'IF', bit: 9, doc: 'SDM 3A §2.3: interrupt enable' },
  { name: 'DF', bit: 10, doc: 'SDM 1 §3.4.3.2: direction' },
  { name: 'OF', bit: 11, doc: 'SDM 1 §3.4.3.1: overflow' },
  { name: 'IOPL', bit: 12, width: 2, doc: 'SDM 3A §2.3: I/O privilege level' },
  { name: 'NT', bit: 14, doc: 'SDM 3A §2.3: nested task' },
  { name: 'RF', bit: 16, doc: 'SDM 3A §2.3: resume flag' },
  { name: 'VM', bit: 17, doc: 'SDM 3A §2.3: virtual-8086 mode' },
  { name: 'AC', bit: 18, doc: 'SDM 3A §2.3: alignment check / SMAP override' },
  { name: 'VIF', bit: 19, requires: 'vme', doc: 'SDM 3A §2.3: virtual interrupt flag' },
  { name: 'VIP', bit: 20, requires: 'vme', doc: 'SDM 3A §2.3: virtual interrupt pending' },
  { name: 'ID', bit: 21, doc: 'SDM 3A §2.3: CPUID available (toggleable)' },
] as const satisfies readonly RegisterBit[];

export const Rflags = masksByName(RFLAGS_BITS);

/** Bits that exist; everything else reads 0 (bit 1 reads 1). */
export const RFLAGS_DEFINED_MASK = maskOf(RFLAGS_BITS);
export const RFLAGS_FIXED1 = Rflags.FIXED1;
/** RFLAGS at RESET/INIT: 0x2 (SDM 3A Table 10-1). */
export const RFLAGS_RESET = 0x2n;
