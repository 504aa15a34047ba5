// DR7, the debug control register: Intel SDM Vol. 3A §17.2.4 (Figure 17-1). KVM: kvm_dr7_valid
// (bits 63:32 reserved, spec §6); bit 10 reads as 1 (DR7_FIXED_1).

import { maskOf, masksByName, type RegisterBit } from './bits.ts';

export const DR7_BITS = [
  { name: 'L0', bit: 0, doc: 'SDM 3A §17.2.4: local enable breakpoint 0' },
  { name: 'G0', bit: 1, doc: 'SDM 3A §17.2.4: global enable breakpoint 0' },
  { name: 'L1', bit: 2, doc: 'SDM 3A §17.2.4: local enable breakpoint 1' },
  { name: 'G1', bit: 3, doc: 'SDM 3A §17.2.4: global enable breakpoint 1' },
  { name: 'L2', bit: 4, doc: 'SDM 3A §17.2.4: local enable breakpoint 2' },
  { name: 'G2', bit: 5, doc: 'SDM 3A §17.2.4: global enable breakpoint 2' },
  { name: 'L3', bit: 6, doc: 'SDM 3A §17.2.4: local enable breakpoint 3' },
  { name: 'G3', bit: 7, doc: 'SDM 3A §17.2.4: global enable breakpoint 3' },
  { name: 'LE', bit: 8, doc: 'SDM 3A §17.2.4: local exact breakpoint' },
  { name: 'GE', bit: 9, doc: 'SDM 3A §17.2.4: global exact breakpoint' },
  { name: 'FIXED1', bit: 10, doc: 'SDM 3A §17.2.4: reserved, reads 1' },
  { name: 'RTM', bit: 11, requires: 'rtm', doc: 'SDM 3A §17.2.4: RTM advanced debugging' },
  { name: 'GD', bit: 13, doc: 'SDM 3A §17.2.4: general detect (MOV DR → #DB)' },
  { name: 'RW0', bit: 16, width: 2, doc: 'SDM 3A §17.2.4: breakpoint 0 condition' },
  { name: 'LEN0', bit: 18, width: 2, doc: 'SDM 3A §17.2.4: breakpoint 0 length' },
  { name: 'RW1', bit: 20, width: 2, doc: 'SDM 3A §17.2.4: breakpoint 1 condition' },
  { name: 'LEN1', bit: 22, width: 2, doc: 'SDM 3A §17.2.4: breakpoint 1 length' },
  { name: 'RW2', bit: 24, width: 2, doc: 'SDM 3A §17.2.4: breakpoint 2 condition' },
  { name: 'LEN2', bit: 26, width: 2, doc: 'SDM 3A §17.2.4: breakpoint 2 length' },
  { name: 'RW3', bit: 28, width: 2, doc: 'SDM 3A §17.2.4: breakpoint 3 condition' },
  { name: 'LEN3', bit: 30, width: 2, doc: 'SDM 3A §17.2.4: breakpoint 3 length' },
] as const satisfies readonly RegisterBit[];

export const Dr7 = masksByName(DR7_BITS);

export const DR7_FIXED_1 = Dr7.FIXED1;
/** DR7_VOLATILE: the bits a MOV DR7 stores (0xFFFF2BFF); bits 12, 14, 15 read 0. */
export const DR7_VOLATILE = maskOf(DR7_BITS) & ~DR7_FIXED_1;
/** DR7 at RESET: 0x400 (SDM 3A Table 10-1). */
export const DR7_RESET = 0x400n;
export const DR7_HIGH_RESERVED = 0xffff_ffff_0000_0000n;
