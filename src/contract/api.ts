// The contract's public shapes: what a check answers and what a legal write implies.
// The rules themselves are in the sibling modules (cr.ts, efer.ts, xsave.ts, dr.ts, sregs.ts, msr.ts,
// vmx.ts); both backends and the conformance runner consume them through src/contract/index.ts.
// Facts: shared/spec/kvm-contract.md §1-§4, §6, §7.

/** What a guest write must raise when refused. 'GP' = #GP(0), 'UD' = #UD. */
export type ContractFault = 'GP' | 'UD';

export interface Refusal {
  readonly ok: false;
  /** the exception the guest sees (guest path); host/userspace paths report EINVAL instead */
  readonly fault: ContractFault;
  /** stable rule id, e.g. 'cr4.reserved', 'cr0.pg-without-pe', 'efer.lmsle' */
  readonly rule: string;
  /** one sentence naming the bit and the CPUID bit or cross-register rule behind it, e.g.
   *  "CR4.LASS (bit 27) is reserved: guest CPUID.(EAX=7,ECX=1):EAX[6] LASS is 0" */
  readonly reason: string;
}

/** Side effects a legal control-register/EFER write implies (spec §1.4, §2, §3.2). */
export interface WriteEffects {
  /** paging mode, reserved-bit masks or permission tables must be recomputed (an interpreter whose
   *  TLB caches permission bits must also drop those entries) */
  readonly mmuReset: boolean;
  /** 'all' = every PCID and global pages; 'current' = current PCID, non-global; 'none' */
  readonly tlbFlush: 'all' | 'current' | 'none';
  /** PAE PDPTEs must be (re)loaded from CR3 */
  readonly loadPdptrs: boolean;
  /** CPUID OS-reflected bits (OSXSAVE, OSPKE) or XSAVE sizes changed */
  readonly cpuidDirty: boolean;
  /** the value actually committed (e.g. CR0.ET forced to 1, CR0 low reserved bits dropped,
   *  EFER.LMA kept) */
  readonly value: bigint;
  /** the EFER implied by the write when it differs from the current one: a CR0.PG change with
   *  EFER.LME=1 sets/clears EFER.LMA (vendor set_cr0, spec §2 "Long-mode activation") */
  readonly efer?: bigint;
}

export interface Accepted {
  readonly ok: true;
  readonly effects: WriteEffects;
}

export type Verdict = Accepted | Refusal;
