// Fault explanations in the manual's terms, built only on the fault path (allocation is fine here):
// SDM Vol. 3A §4.6 (access rights), §4.7 (page-fault error code), §3.3.7.1 (canonical addressing),
// the LASS rules of spec §8.6.

import { VECTOR_NAMES } from '../arch/x86/exceptions.ts';
import { ACC_FETCH, ACC_IMPLICIT, ACC_USER, ACC_WRITE, formatAccess, formatPfec, type EntryName } from './types.ts';
import { Why, type WalkOut } from './walk.ts';

export const LEVEL_NAMES: readonly EntryName[] = ['PTE', 'PTE', 'PDE', 'PDPTE', 'PML4E', 'PML5E'];

export function hexLinear(lo: number, hi: number): string {
  return '0x' + (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0');
}

/** The WalkOut fields a fault explanation needs (a snapshot can stand in for the live record). */
export type FaultFacts = Pick<WalkOut, 'faultLevel' | 'vector' | 'errorCode' | 'why'>;

export function faultReason(out: FaultFacts, linLo: number, linHi: number, access: number): string {
  const at = `${formatAccess(access)} at ${hexLinear(linLo, linHi)}`;
  const lvl = LEVEL_NAMES[out.faultLevel] ?? '?';
  const code = out.vector === 14 ? `#PF(${formatPfec(out.errorCode)})` : `${VECTOR_NAMES[out.vector]}(0)`;
  let why: string;
  switch (out.why) {
    case Why.NONCANONICAL:
      why = 'non-canonical linear address';
      break;
    case Why.LASS:
      why =
        access & ACC_USER
          ? 'LASS: user-mode access to the supervisor half (bit 63 = 1)'
          : access & ACC_FETCH
            ? 'LASS: supervisor instruction fetch from the user half (bit 63 = 0)'
            : access & ACC_IMPLICIT
              ? 'LASS: implicit supervisor access to the user half (bit 63 = 0; RFLAGS.AC cannot override)'
              : 'LASS: supervisor data access to the user half with CR4.SMAP=1 and RFLAGS.AC=0';
      break;
    case Why.NOT_PRESENT:
      why = `${lvl} not present (P=0)`;
      break;
    case Why.RSVD:
      why = `${lvl} has a reserved bit set`;
      break;
    case Why.USER:
      why = 'user-mode access to a supervisor page (U/S=0 at some level)';
      break;
    case Why.WRITE:
      why = access & ACC_USER ? 'user-mode write to a read-only page' : 'supervisor write to a read-only page with CR0.WP=1';
      break;
    case Why.XD:
      why = 'instruction fetch from an execute-disable page (XD=1 at some level, EFER.NXE=1)';
      break;
    case Why.SMEP:
      why = 'SMEP: supervisor instruction fetch from a user page';
      break;
    case Why.SMAP:
      why =
        access & ACC_IMPLICIT
          ? 'SMAP: implicit supervisor access to a user page (RFLAGS.AC cannot override)'
          : 'SMAP: supervisor data access to a user page with RFLAGS.AC=0';
      break;
    case Why.PK:
      why = access & ACC_WRITE ? 'protection key: PKRU denies this access (AD or WD)' : 'protection key: PKRU.AD denies access';
      break;
    case Why.SHADOW_STACK:
      why = 'shadow-stack access to a page that is not a shadow-stack page of that privilege';
      break;
    default:
      why = 'fault';
  }
  return `${code}: ${why} (${at})`;
}
