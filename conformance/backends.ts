// The backends the conformance suite runs on (issue 7 item 2): the KVM backend (src/vcpu/kvm, on
// /dev/kvm when usable) and the TypeScript interpreter (src/vcpu/interp), created by name, with the
// reason when one is unavailable. Shared by the CLI (`tsvmm test`), the worker processes and the tests.

import type { Backend } from '../src/vcpu/backend.ts';
import type { SuiteMode } from './matrix.ts';

export type SuiteBackendName = 'kvm' | 'interp';

export interface SuiteBackend {
  readonly backend?: Backend;
  /** why the backend is unavailable */
  readonly unavailable?: string;
  /** a note about the mode */
  readonly note?: string;
}

/**
 * Create a backend. `mode` selects the interpreter's rules (InterpOptions.mode → the contract's
 * GuestModel mode); KVM always behaves as KVM, so in 'architectural' mode its cells say so.
 */
export async function createSuiteBackend(name: SuiteBackendName, mode: SuiteMode = 'kvm-exact'): Promise<SuiteBackend> {
  if (name === 'kvm') {
    try {
      const kvm = await import('../src/vcpu/kvm/index.ts');
      const avail = kvm.isKvmAvailable();
      if (!avail.ok) return { unavailable: `KVM is not usable here: ${avail.reason}` };
      return {
        backend: kvm.createKvmBackend(),
        ...(mode === 'architectural' ? { note: 'KVM enforces its own rules: architectural-mode expectations may differ' } : {}),
      };
    } catch (e) {
      return { unavailable: `the KVM backend could not be loaded: ${(e as Error).message}` };
    }
  }
  try {
    const interp = await import('../src/vcpu/interp/index.ts');
    return { backend: interp.createInterpBackend({ mode: mode === 'architectural' ? 'architectural' : 'kvmExact' }) };
  } catch (e) {
    return { unavailable: `the interpreter backend cannot be created: ${(e as Error).message}` };
  }
}
