// DR6, the debug status register: Intel SDM Vol. 3A §17.2.3 (Figure 17-1). KVM: kvm_dr6_valid and
// kvm_dr6_fixed in x86.c/x86.h (spec §6: bits 63:32 reserved) [R] for the fixed-bit details.

import { maskOf, masksByName, type RegisterBit } from './bits.ts';

export const DR6_BITS = [
  { name: 'B0', bit: 0, doc: 'SDM 3A §17.2.3: breakpoint 0 condition detected' },
  { name: 'B1', bit: 1, doc: 'SDM 3A §17.2.3: breakpoint 1 condition detected' },
  { name: 'B2', bit: 2, doc: 'SDM 3A §17.2.3: breakpoint 2 condition detected' },
  { name: 'B3', bit: 3, doc: 'SDM 3A §17.2.3: breakpoint 3 condition detected' },
  {
    name: 'BLD',
    bit: 11,
    requires: 'bus_lock_detect',
    doc: 'SDM 3A §17.2.3: bus-lock detected (active low; reads 1 without the feature)',
  },
  { name: 'BD', bit: 13, doc: 'SDM 3A §17.2.3: debug-register access detected' },
  { name: 'BS', bit: 14, doc: 'SDM 3A §17.2.3: single step' },
  { name: 'BT', bit: 15, doc: 'SDM 3A §17.2.3: task switch' },
  {
    name: 'RTM',
    bit: 16,
    requires: 'rtm',
    doc: 'SDM 3A §17.2.3: RTM debug (active low; reads 1 without RTM)',
  },
] as const satisfies readonly RegisterBit[];

export const Dr6 = masksByName(DR6_BITS);

/** DR6_VOLATILE: the bits a write can change. */
export const DR6_VOLATILE = maskOf(DR6_BITS);
/** DR6_FIXED_1: bits 31:0 that always read 1 (4:10, 17:31; bit 12 reads 0; BLD and RTM are active-low
 *  and read 1 only when the guest lacks the feature, see kvm_dr6_fixed). */
export const DR6_FIXED_1 = 0xfffe07f0n;
/** DR6 at RESET: 0xFFFF0FF0 (SDM 3A Table 10-1). */
export const DR6_RESET = 0xffff0ff0n;
export const DR6_HIGH_RESERVED = 0xffff_ffff_0000_0000n;
