// MOV to DR6/DR7: Intel SDM Vol. 3A §17.2.3-17.2.4; KVM kvm_set_dr with kvm_dr6_valid/kvm_dr7_valid
// (bits 63:32 reserved → #GP, spec §6) and kvm_dr6_fixed (RTM and BLD read 1 when the guest lacks
// them) [R] for the fixed-bit details.

import type { Verdict } from './api.ts';
import { DR6_FIXED_1, DR6_HIGH_RESERVED, DR6_VOLATILE, Dr6 } from '../arch/x86/registers/dr6.ts';
import { DR7_FIXED_1, DR7_HIGH_RESERVED, DR7_VOLATILE } from '../arch/x86/registers/dr7.ts';
import type { GuestModel } from './model.ts';
import { accept, hexv, refuse, u64Arg, type ControlState } from './state.ts';

/** The DR6 bits that read as 1 for this guest (kvm_dr6_fixed). */
export function dr6Fixed(model: GuestModel): bigint {
  let f = DR6_FIXED_1;
  if (!model.has('rtm')) f |= Dr6.RTM;
  if (!model.has('bus_lock_detect')) f |= Dr6.BLD;
  return f;
}

/** MOV to DR6 (the state is unused today; the signature matches the other guest-path checks). */
export function checkDr6Write(model: GuestModel, _state: ControlState, value: bigint): Verdict {
  u64Arg(value, 'DR6 value');
  if (value & DR6_HIGH_RESERVED)
    return refuse('GP', 'dr6.high-reserved', `DR6 bits 63:32 are reserved (value ${hexv(value)})`);
  return accept((value & DR6_VOLATILE) | dr6Fixed(model));
}

/** MOV to DR7: bits 12, 14, 15 are not stored, bit 10 reads 1. */
export function checkDr7Write(_model: GuestModel, _state: ControlState, value: bigint): Verdict {
  u64Arg(value, 'DR7 value');
  if (value & DR7_HIGH_RESERVED)
    return refuse('GP', 'dr7.high-reserved', `DR7 bits 63:32 are reserved (value ${hexv(value)})`);
  return accept((value & DR7_VOLATILE) | DR7_FIXED_1);
}
