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
  /** a note about the mode (the interpreter has no architectural mode yet) */
  readonly note?: string;
}

/**
 * Create a backend. `mode` selects the interpreter's rules; createInterpBackend takes no mode option
 * yet (src/vcpu/interp InterpOptions has only `budget`), so 'architectural' runs the interpreter in its
 * KVM-exact behaviour and says so in `note`.
 */
export async function createSuiteBackend(name: SuiteBackendName, mode: SuiteMode = 'kvm-exact'): Promise<SuiteBackend> {
  if (name === 'kvm') {
    try {
      const kvm = await import('../src/vcpu/kvm/index.ts');
      const avail = kvm.isKvmAvailable();
      if (!avail.ok) return { unavailable: `KVM is not usable here: ${avail.reason}` };
      return { backend: kvm.createKvmBackend() };
    } catch (e) {
      return { unavailable: `the KVM backend could not be loaded: ${(e as Error).message}` };
    }
  }
  try {
    const interp = await import('../src/vcpu/interp/index.ts');
    return {
      backend: interp.createInterpBackend(),
      ...(mode === 'architectural'
        ? { note: 'the interpreter has no architectural mode yet (InterpOptions has no mode): it runs KVM-exact rules' }
        : {}),
    };
  } catch (e) {
    return { unavailable: `the interpreter backend cannot be created: ${(e as Error).message}` };
  }
}
