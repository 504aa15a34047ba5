// Bit-by-bit explanation of a CR0/CR4/EFER/XCR0/XSS value under a guest model: which bits this policy
// accepts, drops or refuses and why (data for `tsvmm contract explain`; rules from cr.ts, efer.ts,
// xsave.ts; bit tables from src/arch/x86/registers).

import type { Verdict } from './api.ts';
import { CR0_BITS, CR0_HIGH_RESERVED, Cr0 } from '../arch/x86/registers/cr0.ts';
import { CR4_BITS, Cr4 } from '../arch/x86/registers/cr4.ts';
import { EFER_BITS } from '../arch/x86/registers/efer.ts';
import { XCR0_BITS } from '../arch/x86/registers/xcr0.ts';
import { XSS_BITS } from '../arch/x86/registers/xss.ts';
import { rowAt, type RegisterBit } from '../arch/x86/registers/bits.ts';
import { checkCr0Write, checkCr4Write, cr4ReservedReason } from './cr.ts';
import { checkEferWrite, eferValidityRefusal } from './efer.ts';
import type { GuestModel } from './model.ts';
import { RESET_STATE, type ControlState } from './state.ts';
import { checkXsetbv, checkXssWrite, xcr0UnsupportedReason, xssUnsupportedReason } from './xsave.ts';
import { TsvmmError } from '../util/result.ts';

export const EXPLAINABLE = ['cr0', 'cr4', 'efer', 'xcr0', 'xss'] as const;
export type ExplainableRegister = (typeof EXPLAINABLE)[number];

export interface BitExplanation {
  readonly bit: number;
  readonly name: string;
  /** 'ok' accepted; 'dropped' silently ignored (CR0 low undefined bits); 'refused' faults */
  readonly status: 'ok' | 'dropped' | 'refused';
  readonly reason?: string;
  readonly doc?: string;
}

export interface Explanation {
  readonly register: ExplainableRegister;
  readonly value: bigint;
  readonly mode: GuestModel['mode'];
  readonly bits: readonly BitExplanation[];
  /** the value written as a guest MOV/WRMSR/XSETBV from the RESET state (XCR0: with CR4.OSXSAVE=1) */
  readonly asGuestWrite: Verdict;
}

const TABLES: Record<ExplainableRegister, readonly RegisterBit[]> = {
  cr0: CR0_BITS,
  cr4: CR4_BITS,
  efer: EFER_BITS,
  xcr0: XCR0_BITS,
  xss: XSS_BITS,
};

function bitStatus(
  model: GuestModel,
  reg: ExplainableRegister,
  bit: number,
): Omit<BitExplanation, 'bit' | 'name' | 'doc'> {
  const m = 1n << BigInt(bit);
  switch (reg) {
    case 'cr0':
      if (m & CR0_HIGH_RESERVED) return { status: 'refused', reason: 'CR0 bits 63:32 are reserved (#GP)' };
      if (!(m & model.cr0Valid))
        return { status: 'dropped', reason: 'undefined CR0 bit: KVM ignores writes to it' };
      return { status: 'ok' };
    case 'cr4': {
      const r = cr4ReservedReason(model, bit);
      return r ? { status: 'refused', reason: r } : { status: 'ok' };
    }
    case 'efer': {
      const r = eferValidityRefusal(model, m, true);
      return r && !r.ok ? { status: 'refused', reason: r.reason } : { status: 'ok' };
    }
    case 'xcr0': {
      const r = xcr0UnsupportedReason(model, bit);
      return r ? { status: 'refused', reason: r } : { status: 'ok' };
    }
    case 'xss': {
      if (!model.has('xsaves'))
        return { status: 'refused', reason: `IA32_XSS needs XSAVES: ${model.absentReason('xsaves')}` };
      const r = xssUnsupportedReason(model, bit);
      return r ? { status: 'refused', reason: r } : { status: 'ok' };
    }
  }
}

export function explainValue(model: GuestModel, reg: string, value: bigint): Explanation {
  if (!(EXPLAINABLE as readonly string[]).includes(reg))
    throw new TsvmmError(
      'CONTRACT_EXPLAIN',
      `cannot explain register '${reg}': choose one of ${EXPLAINABLE.join(', ')}`,
    );
  const r = reg as ExplainableRegister;
  if (value < 0n || value >> 64n)
    throw new TsvmmError('CONTRACT_EXPLAIN', `value ${value} does not fit in 64 bits`);
  const rows = TABLES[r];
  const bits: BitExplanation[] = [];
  for (let i = 0; i < 64; i++) {
    if (!((value >> BigInt(i)) & 1n)) continue;
    const row = rowAt(rows, i);
    bits.push({
      bit: i,
      name: row?.name ?? `bit${i}`,
      ...bitStatus(model, r, i),
      ...(row ? { doc: row.doc } : {}),
    });
  }
  const st: ControlState = RESET_STATE;
  let asGuestWrite: Verdict;
  switch (r) {
    case 'cr0':
      asGuestWrite = checkCr0Write(model, st, value);
      break;
    case 'cr4':
      asGuestWrite = checkCr4Write(model, { ...st, cr0: st.cr0 | Cr0.WP }, value);
      break;
    case 'efer':
      asGuestWrite = checkEferWrite(model, st, value);
      break;
    case 'xcr0':
      asGuestWrite = checkXsetbv(model, { ...st, cr4: Cr4.OSXSAVE }, { cpl: 0, ecx: 0, value });
      break;
    case 'xss':
      asGuestWrite = checkXssWrite(model, st, value);
      break;
  }
  return { register: r, value, mode: model.mode, bits, asGuestWrite };
}
