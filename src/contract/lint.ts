// The contract's consistency checks on a CPUID policy (hooked into `tsvmm cpuid check`): what a guest
// CPUID must say so that the vCPU can behave consistently with it. Sources: spec §3.3 (NO_LMSL),
// §4.1-4.3 (XCR0/XSS dependencies, leaf 0xD sizes: SDM Vol. 1 §13.4-13.5), §5.6 (MAXPHYADDR, virtual
// address bits 0/48/57), §7.5 (VMX controls tied to CPUID), kernel cpuid-deps.c (LASS→SMAP, FRED→LKGS).

import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { xsaveComponent } from '../arch/x86/cpuid/fields.ts';
import { KVM_SUPPORTED_XCR0, XCR0_BITS, Xcr0 } from '../arch/x86/registers/xcr0.ts';
import { Xss } from '../arch/x86/registers/xss.ts';
import { featureText, tableHas } from './features.ts';
import { deriveGuestModel, xcr0EnumText, type ContractMode, type GuestModel } from './model.ts';
import { deriveVmxMsrs } from './vmx.ts';
import { xcr0ValueRefusal } from './xsave.ts';
import { TsvmmError } from '../util/result.ts';

export type Severity = 'error' | 'warning' | 'info';

export interface Finding {
  readonly severity: Severity;
  /** stable id, e.g. 'contract.no-lmsl' */
  readonly rule: string;
  readonly reason: string;
}

/** Size of the legacy region plus the XSAVE header (SDM Vol. 1 §13.4). */
const XSAVE_LEGACY_AND_HEADER = 576;

function bitsOf(m: bigint): number[] {
  const out: number[] = [];
  for (let i = 0; i < 64; i++) if ((m >> BigInt(i)) & 1n) out.push(i);
  return out;
}

/** Standard-format XSAVE size for the components in `mask` (0xD.0:ECX for the offered XCR0). */
export function standardXsaveSize(t: CpuidTable, mask: bigint): number | undefined {
  let size = XSAVE_LEGACY_AND_HEADER;
  for (const i of bitsOf(mask)) {
    if (i < 2) continue;
    const c = xsaveComponent(t, i);
    if (!c) return undefined;
    size = Math.max(size, c.offset + c.size);
  }
  return size;
}

/** Compacted-format XSAVE size for `mask` (0xD.1:EBX for XCR0|XSS; SDM Vol. 1 §13.4.3). */
export function compactedXsaveSize(t: CpuidTable, mask: bigint): number | undefined {
  let size = XSAVE_LEGACY_AND_HEADER;
  for (const i of bitsOf(mask)) {
    if (i < 2) continue;
    const c = xsaveComponent(t, i);
    if (!c) return undefined;
    if (c.align64) size = (size + 63) & ~63;
    size += c.size;
  }
  return size;
}

/** The guest model, or undefined when the table is too broken for one (already reported). */
function tryModel(t: CpuidTable, mode: ContractMode): GuestModel | undefined {
  try {
    return deriveGuestModel(t, { mode });
  } catch (e) {
    if (e instanceof TsvmmError) return undefined;
    throw e;
  }
}

function xsaveFindings(t: CpuidTable, out: Finding[]): void {
  const has = (f: string): boolean => tableHas(t, f);
  const xcr0 = (BigInt(t.reg(0xd, 0, 'edx')) << 32n) | BigInt(t.reg(0xd, 0, 'eax'));
  const xss = (BigInt(t.reg(0xd, 1, 'edx')) << 32n) | BigInt(t.reg(0xd, 1, 'ecx'));
  if (!has('xsave')) {
    for (const f of ['xsaveopt', 'xsavec', 'xsaves'] as const)
      if (has(f))
        out.push({
          severity: 'error',
          rule: 'contract.xsave-dependency',
          reason: `${featureText(f)} is offered without ${featureText('xsave')}`,
        });
    if (xcr0 > 1n || xss)
      out.push({
        severity: 'warning',
        rule: 'contract.xsave-dependency',
        reason: `leaf 0xD enumerates state components (XCR0 ${'0x' + xcr0.toString(16)}, XSS ${'0x' + xss.toString(16)}) without ${featureText('xsave')}`,
      });
    return;
  }
  // XCR0 dependency rules must hold for the offered mask (else no legal XCR0 uses every component).
  const arch = tryModel(t, 'architectural');
  const dep = arch && xcr0ValueRefusal(arch, xcr0);
  if (dep && !dep.ok)
    out.push({
      severity: 'error',
      rule: 'contract.xcr0-dependency',
      reason: `offered XCR0 ${'0x' + xcr0.toString(16)}: ${dep.reason}`,
    });
  const beyond = xcr0 & ~KVM_SUPPORTED_XCR0;
  if (beyond)
    out.push({
      severity: 'warning',
      rule: 'contract.xcr0-beyond-kvm',
      reason: `XCR0 bits ${bitsOf(beyond).join(', ')} are enumerated but KVM never supports them (KVM_SUPPORTED_XCR0)`,
    });
  // Component bits vs feature flags.
  const pairs: readonly [bigint, string][] = [
    [Xcr0.AVX, 'avx'],
    [Xcr0.BNDREGS | Xcr0.BNDCSR, 'mpx'],
    [Xcr0.OPMASK | Xcr0.ZMM_HI256 | Xcr0.HI16_ZMM, 'avx512f'],
    [Xcr0.PKRU, 'pku'],
    [Xcr0.XTILECFG | Xcr0.XTILEDATA, 'amx_tile'],
  ];
  for (const [mask, f] of pairs) {
    const offered = (xcr0 & mask) !== 0n;
    if (offered !== has(f)) {
      const row = XCR0_BITS.find((r) => (1n << BigInt(r.bit)) & mask)!;
      out.push({
        severity: 'warning',
        rule: 'contract.xcr0-feature',
        reason: offered
          ? `XCR0 ${row.name} state (${xcr0EnumText(row.bit)}) is enumerated but ${featureText(f)} is 0`
          : `${featureText(f)} is offered but its XCR0 state (${xcr0EnumText(row.bit)}) is not enumerated, so the guest cannot enable it`,
      });
    }
  }
  const cet = Xss.CET_U | Xss.CET_S;
  if (xss & cet && !(has('shstk') || has('ibt')))
    out.push({
      severity: 'warning',
      rule: 'contract.xss-feature',
      reason: `XSS CET state is enumerated without ${featureText('shstk')} or ${featureText('ibt')}`,
    });
  if ((has('shstk') || has('ibt')) && (xss & cet) !== cet)
    out.push({
      severity: 'warning',
      rule: 'contract.xss-feature',
      reason:
        'SHSTK/IBT are offered but XSS does not enumerate both CET_U and CET_S (KVM hides CET then, spec §4.2)',
    });
  if (xss && !has('xsaves'))
    out.push({
      severity: 'warning',
      rule: 'contract.xss-without-xsaves',
      reason: `IA32_XSS components 0x${xss.toString(16)} are enumerated but ${featureText('xsaves')} is 0, so IA32_XSS #GPs`,
    });
  // Every offered component needs its subleaf with the right XCR0/XSS flag.
  for (const i of bitsOf((xcr0 | xss) & ~3n)) {
    const c = xsaveComponent(t, i);
    const supervisor = ((xss >> BigInt(i)) & 1n) === 1n;
    if (!c)
      out.push({
        severity: 'error',
        rule: 'contract.xsave-component',
        reason: `state component ${i} is enumerated but CPUID.(EAX=0xD,ECX=${i}) reports size 0`,
      });
    else if (c.supervisor !== supervisor)
      out.push({
        severity: 'error',
        rule: 'contract.xsave-component',
        reason: `CPUID.(EAX=0xD,ECX=${i}):ECX[0] says ${c.supervisor ? 'XSS' : 'XCR0'} but the component is enumerated in ${supervisor ? 'XSS' : 'XCR0'}`,
      });
  }
  const std = standardXsaveSize(t, xcr0);
  const ecx = t.reg(0xd, 0, 'ecx');
  if (std !== undefined && ecx !== std)
    out.push({
      severity: 'error',
      rule: 'contract.xsave-size',
      reason: `CPUID.(EAX=0xD,ECX=0):ECX = ${ecx} but the offered XCR0 components need ${std} bytes (standard format)`,
    });
  const ebx0 = t.reg(0xd, 0, 'ebx');
  if (std !== undefined && ebx0 > std)
    out.push({
      severity: 'warning',
      rule: 'contract.xsave-size',
      reason: `CPUID.(EAX=0xD,ECX=0):EBX = ${ebx0} exceeds the maximum standard size ${std}`,
    });
  if (has('xsavec') || has('xsaves')) {
    const cmp = compactedXsaveSize(t, xcr0 | (has('xsaves') ? xss : 0n));
    const ebx1 = t.reg(0xd, 1, 'ebx');
    if (cmp !== undefined && ebx1 !== 0 && ebx1 > cmp)
      out.push({
        severity: 'warning',
        rule: 'contract.xsave-size',
        reason: `CPUID.(EAX=0xD,ECX=1):EBX = ${ebx1} exceeds the compacted size ${cmp} of every offered component (KVM recomputes it at run time for XCR0|XSS)`,
      });
  }
}

/** The contract's findings for a guest CPUID (`mode` picks the VMX/CR4 rules used for the VMX check). */
export function contractLint(table: CpuidTable, opts: { mode?: ContractMode } = {}): Finding[] {
  if (!(table && typeof table.reg === 'function'))
    throw new TsvmmError('CONTRACT_LINT', 'contractLint needs a CpuidTable');
  const out: Finding[] = [];
  const has = (f: string): boolean => tableHas(table, f);
  const maxExt = table.maxExtendedLeaf();
  const vendor = table.vendorString();
  const amdLike = vendor === 'AuthenticAMD' || vendor === 'HygonGenuine';

  // NO_LMSL (spec §3.3, §10.4): EFER.LMSLE is never virtualized, so say so.
  if (!has('efer_lmsle_mbz'))
    out.push({
      severity: amdLike || has('svm') ? 'warning' : 'info',
      rule: 'contract.no-lmsl',
      reason: `${featureText('efer_lmsle_mbz')} (EferLmsleUnsupported / NO_LMSL) is 0 although EFER.LMSLE is refused under every tsvmm policy; advertise it`,
    });

  // MAXPHYADDR and linear-address width (spec §5.6, kvm_check_cpuid).
  const phys = maxExt >= 0x80000008 ? table.reg(0x80000008, 0, 'eax') & 0xff : 36;
  if (phys < 32 || phys > 52)
    out.push({
      severity: 'error',
      rule: 'contract.maxphyaddr',
      reason: `MAXPHYADDR ${phys} (CPUID.80000008H:EAX[7:0]) is outside 32..52`,
    });
  if (maxExt < 0x80000008 && has('lm'))
    out.push({
      severity: 'warning',
      rule: 'contract.maxphyaddr',
      reason: 'leaf 0x80000008 is missing: MAXPHYADDR defaults to 36 and the linear-address width is unknown',
    });
  if (maxExt >= 0x80000008) {
    const virt = (table.reg(0x80000008, 0, 'eax') >> 8) & 0xff;
    if (virt !== 0 && virt !== 48 && virt !== 57)
      out.push({
        severity: 'error',
        rule: 'contract.virt-addr-bits',
        reason: `CPUID.80000008H:EAX[15:8] = ${virt}: KVM_SET_CPUID2 accepts only 0, 48 or 57`,
      });
    else if (has('la57') && virt !== 57 && virt !== 0)
      out.push({
        severity: 'warning',
        rule: 'contract.la57',
        reason: `${featureText('la57')} is offered but the linear-address width is ${virt}, not 57`,
      });
    else if (!has('la57') && virt === 57)
      out.push({
        severity: 'warning',
        rule: 'contract.la57',
        reason: `the linear-address width is 57 but ${featureText('la57')} is 0`,
      });
  }

  xsaveFindings(table, out);

  // Feature dependencies the contract relies on.
  const deps: readonly [string, string, Severity, string][] = [
    ['pcid', 'lm', 'warning', 'CR4.PCIDE can only be set in long mode'],
    ['la57', 'lm', 'warning', '5-level paging needs long mode'],
    ['lass', 'smap', 'warning', 'LASS depends on SMAP (kernel cpuid-deps.c)'],
    ['fred', 'lkgs', 'warning', 'FRED depends on LKGS (kernel cpuid-deps.c)'],
    ['shstk', 'xsaves', 'warning', 'CET state is managed through XSAVES/IA32_XSS'],
    ['ibt', 'xsaves', 'warning', 'CET state is managed through XSAVES/IA32_XSS'],
    ['pku', 'xsave', 'warning', 'PKRU is XSAVE state'],
    ['avx', 'xsave', 'error', 'AVX state needs XSAVE'],
    ['x2apic', 'apic', 'warning', 'x2APIC needs an APIC'],
  ];
  for (const [f, need, sev, why] of deps)
    if (has(f) && !has(need))
      out.push({
        severity: sev,
        rule: 'contract.dependency',
        reason: `${featureText(f)} is offered without ${featureText(need)}: ${why}`,
      });
  for (const f of ['osxsave', 'ospke'] as const)
    if (has(f))
      out.push({
        severity: 'warning',
        rule: 'contract.os-bit',
        reason: `${featureText(f)} is an OS-reflected bit (mirrors CR4); a policy should leave it 0 (spec §1.5)`,
      });

  // VMX (spec §7.5): on AMD-like guests KVM never offers VMX; tied controls the VMM must clear.
  if (has('vmx')) {
    if (amdLike)
      out.push({
        severity: 'warning',
        rule: 'contract.vmx-vendor',
        reason: `${featureText('vmx')} is offered to an AMD-compatible guest; KVM offers VMX only on Intel hosts`,
      });
    const model = tryModel(table, opts.mode ?? 'kvmExact');
    const cleared = model ? deriveVmxMsrs(model).controls.filter((c) => c.removedBecause) : [];
    if (cleared.length)
      out.push({
        severity: 'info',
        rule: 'contract.vmx-controls',
        reason: `the nested VMX controls ${cleared.map((c) => `${c.msr}.${c.name}`).join(', ')} are tied to CPUID features this policy does not offer; tsvmm clears them (KVM no longer does since the 2022 revert)`,
      });
  }
  if (has('svm') && !amdLike)
    out.push({
      severity: 'warning',
      rule: 'contract.svm-vendor',
      reason: `${featureText('svm')} is offered to an Intel-compatible guest`,
    });
  return out;
}
