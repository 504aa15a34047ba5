// MOV to DR6/DR7: Intel SDM Vol. 3A §17.2.3-17.2.4; KVM kvm_set_dr with kvm_dr6_valid/kvm_dr7_valid
// (bits 63:32 reserved → #GP, spec §6) and kvm_dr6_fixed (RTM and BLD read 1 when the guest lacks
// them) [R] for the fixed-bit details.

import type { Verdict } from './api.ts';
import { DR6_FIXED_1, DR6_HIGH_RESERVED, DR6_VOLATILE, Dr6 } from '../arch/x86/registers/dr6.ts';
import { DR7_FIXED_1, DR7_HIGH_RESERVED } from '../arch/x86/registers/dr7.ts';
import type { GuestModel } from './model.ts';
import { accept, hexv, refuse } from './state.ts';

/** The DR6 bits that read as 1 for this guest (kvm_dr6_fixed). */
export function dr6Fixed(model: GuestModel): bigint {
  let f = DR6_FIXED_1;
  if (!model.has('rtm')) f |= Dr6.RTM;
  if (!model.has('bus_lock_detect')) f |= Dr6.BLD;
  return f;
}

export function checkDr6Write(model: GuestModel, value: bigint): Verdict {
  if (value & DR6_HIGH_RESERVED) return refuse('GP', 'dr6.high-reserved', `DR6 bits 63:32 are reserved (value ${hexv(value)})`);
  return accept((value & DR6_VOLATILE) | dr6Fixed(model));
}

export function checkDr7Write(_model: GuestModel, value: bigint): Verdict {
  if (value & DR7_HIGH_RESERVED) return refuse('GP', 'dr7.high-reserved', `DR7 bits 63:32 are reserved (value ${hexv(value)})`);
  return accept(value | DR7_FIXED_1);
}
