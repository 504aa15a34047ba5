// Test helper: what the tests need to know about this host's /dev/kvm (availability and whether it
// is the kvm_pvm module), with the skip reasons the KVM tests print.

import { isKvmAvailable, kvmModule } from '../system.ts';
import { binutilsMissing } from './assemble.ts';

const avail = isKvmAvailable();

/** false when KVM tests can run, else the reason they skip. */
export const kvmSkip: string | false = avail.ok ? false : `KVM unavailable: ${avail.reason}`;

/** As kvmSkip, and also needs binutils to assemble guest programs. */
export const kvmGuestSkip: string | false = kvmSkip || (binutilsMissing() ?? false);

/** True when /dev/kvm is served by kvm_pvm (KVM without VT-x/SVM). */
export const isPvm = kvmModule() === 'kvm_pvm';

export const pvmSkip: string | false = kvmGuestSkip || (isPvm ? false : 'not a kvm_pvm host');
