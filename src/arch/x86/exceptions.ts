// Exception and interrupt vectors: Intel SDM Vol. 3A §6.3.1 Table 6-1 "Protected-Mode Exceptions and
// Interrupts"; AMD APM Vol. 2 §8.2. Classes for double-fault generation: SDM Vol. 3A Table 6-4/6-5.

export const Vector = {
  DE: 0, // divide error (fault)
  DB: 1, // debug (fault/trap)
  NMI: 2,
  BP: 3, // INT3 (trap)
  OF: 4, // INTO (trap)
  BR: 5, // BOUND range exceeded (fault)
  UD: 6, // invalid opcode (fault)
  NM: 7, // device not available (fault)
  DF: 8, // double fault (abort, error code 0)
  TS: 10, // invalid TSS (fault, error code)
  NP: 11, // segment not present (fault, error code)
  SS: 12, // stack-segment fault (fault, error code)
  GP: 13, // general protection (fault, error code)
  PF: 14, // page fault (fault, error code, CR2)
  MF: 16, // x87 FPU error (fault)
  AC: 17, // alignment check (fault, error code 0)
  MC: 18, // machine check (abort)
  XM: 19, // SIMD floating-point (fault)
  VE: 20, // virtualization exception
  CP: 21, // control protection (fault, error code)
} as const;

export type VectorName = keyof typeof Vector;

export const VECTOR_NAMES: readonly string[] = (() => {
  const n: string[] = [];
  for (const [k, v] of Object.entries(Vector)) n[v] = '#' + k;
  return n;
})();

/** Vectors that push an error code when delivered as exceptions (SDM Vol. 3A Table 6-1). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17 || vector === 21;
}

/** Contributory exceptions (SDM Vol. 3A Table 6-4): #DE, #TS, #NP, #SS, #GP. */
export function isContributory(vector: number): boolean {
  return vector === 0 || (vector >= 10 && vector <= 13);
}

/**
 * A guest-visible fault. Raised inside the interpreter/MMU and caught in exactly one place, the
 * instruction loop (DESIGN.md §3.6). Never escapes into host code. `reason` is for traces and
 * conformance reports (e.g. the contract's refusal text), never shown to the guest.
 */
export class CpuFault {
  constructor(
    readonly vector: number,
    readonly errorCode: number = -1,
    /** page-fault linear address (low 32 bits, high 32 bits) */
    readonly cr2Lo: number = 0,
    readonly cr2Hi: number = 0,
    readonly reason: string = '',
  ) {}

  get hasErrorCode(): boolean {
    return this.errorCode >= 0;
  }

  toString(): string {
    const ec = this.errorCode >= 0 ? `(${this.errorCode.toString(16)})` : '';
    return `${VECTOR_NAMES[this.vector] ?? 'vector ' + this.vector}${ec}${this.reason ? ': ' + this.reason : ''}`;
  }
}
