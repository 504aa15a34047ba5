// Nested VMX capability MSRs (spec §7): derivation from a host baseline and the guest CPUID, the
// CPUID-tied controls of the policy layer (BNDCFGS ↔ MPX, CET, RTIT, PKRS, PERF_GLOBAL_CTRL, secondary
// controls), CR4_FIXED1 following CPUID, and the userspace-restore rules (our port of vmx_msrs_test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cr0 } from '../arch/x86/registers/cr0.ts';
import { Cr4 } from '../arch/x86/registers/cr4.ts';
import {
  EntryCtl,
  ExitCtl,
  PIN_DEFAULT1,
  PROC_DEFAULT1,
  Proc2Ctl,
  ENTRY_DEFAULT1,
  EXIT_DEFAULT1,
} from '../arch/x86/vmx/controls.ts';
import {
  VmxMsr,
  VmxBasic,
  VmxMisc,
  controlHigh,
  controlLow,
  controlMsr,
  type VmxMsrName,
} from '../arch/x86/vmx/msrs.ts';
import { featureText } from './features.ts';
import { deriveGuestModel } from './model.ts';
import {
  DEFAULT_HOST_VMX,
  VMCS12_REVISION,
  checkVmxMsrRestore,
  cr4Fixed1,
  deriveVmxMsrs,
  type VmxMsrs,
} from './vmx.ts';
import { thisMachineKvmSupported, withFeatures, withReg, withVendor } from './fixtures/tables.ts';
import type { Verdict } from './api.ts';

const BASE = withReg(
  withFeatures(withVendor(thisMachineKvmSupported(), 'GenuineIntel'), [
    'vmx',
    'mpx',
    'shstk',
    'ibt',
    'rdtscp',
    'invpcid',
    'xsaves',
    'xsave',
    'rdrand',
    'rdseed',
    'intel_pt',
    'smep',
    'smap',
    'pcid',
    'fsgsbase',
    'la57',
    'lass',
  ]),
  0xa,
  0,
  'eax',
  0x07300805, // PMU version 5
);
const hi = (v: bigint, m: bigint): boolean => (controlHigh(v) & m) !== 0n;

function ok(v: Verdict, what = ''): void {
  assert.ok(v.ok, v.ok ? '' : `${what} ${v.rule}: ${v.reason}`);
}
function no(v: Verdict, rule: string, what = ''): void {
  assert.equal(v.ok, false, `${what} should be refused`);
  if (!v.ok) assert.equal(v.rule, rule, v.reason);
}

test('BNDCFGS VMX controls follow MPX in the policy; KVM itself keeps exposing them (2022 revert)', () => {
  const withMpx = deriveVmxMsrs(deriveGuestModel(BASE));
  assert.ok(hi(withMpx.policy.TRUE_ENTRY_CTLS, EntryCtl.LOAD_BNDCFGS));
  assert.ok(hi(withMpx.policy.TRUE_EXIT_CTLS, ExitCtl.CLEAR_BNDCFGS));
  const noMpx = deriveVmxMsrs(deriveGuestModel(withFeatures(BASE, 'mpx', false)));
  assert.ok(!hi(noMpx.policy.TRUE_ENTRY_CTLS, EntryCtl.LOAD_BNDCFGS));
  assert.ok(!hi(noMpx.policy.TRUE_EXIT_CTLS, ExitCtl.CLEAR_BNDCFGS));
  assert.ok(!hi(noMpx.policy.ENTRY_CTLS, EntryCtl.LOAD_BNDCFGS), 'the non-TRUE MSR follows');
  assert.ok(hi(noMpx.kvm.TRUE_ENTRY_CTLS, EntryCtl.LOAD_BNDCFGS), 'KVM no longer rewrites it');
  assert.ok(hi(noMpx.kvmMax.TRUE_EXIT_CTLS, ExitCtl.CLEAR_BNDCFGS));
  const a = noMpx.controls.find((c) => c.msr === 'TRUE_ENTRY_CTLS' && c.name === 'LOAD_BNDCFGS')!;
  assert.equal(a.policyAllows, false);
  assert.ok(a.removedBecause?.includes(featureText('mpx')));
  assert.equal(a.cpuid, featureText('mpx'));
});

test('other CPUID-tied controls: CET state, PERF_GLOBAL_CTRL, secondary controls, MISC.INTEL_PT', () => {
  const full = deriveVmxMsrs(deriveGuestModel(BASE)).policy;
  assert.ok(
    hi(full.TRUE_ENTRY_CTLS, EntryCtl.LOAD_CET_STATE) && hi(full.TRUE_EXIT_CTLS, ExitCtl.LOAD_CET_STATE),
  );
  assert.ok(hi(full.TRUE_ENTRY_CTLS, EntryCtl.LOAD_IA32_PERF_GLOBAL_CTRL));
  for (const c of [
    'ENABLE_RDTSCP',
    'ENABLE_INVPCID',
    'ENABLE_XSAVES',
    'RDRAND_EXITING',
    'RDSEED_EXITING',
  ] as const)
    assert.ok(hi(full.PROCBASED_CTLS2, Proc2Ctl[c]), c);
  const noCet = deriveVmxMsrs(deriveGuestModel(withFeatures(BASE, ['shstk', 'ibt'], false)));
  assert.ok(!hi(noCet.policy.TRUE_ENTRY_CTLS, EntryCtl.LOAD_CET_STATE));
  assert.ok(!hi(noCet.policy.TRUE_EXIT_CTLS, ExitCtl.LOAD_CET_STATE));
  assert.ok(
    hi(noCet.kvmMax.TRUE_EXIT_CTLS, ExitCtl.LOAD_CET_STATE),
    'KVM supports CET: its maximum keeps the control',
  );
  const kvmNoCet = withFeatures(BASE, ['shstk', 'ibt'], false);
  const noHostCet = deriveVmxMsrs(deriveGuestModel(kvmNoCet, { hostSupported: kvmNoCet }));
  assert.ok(
    !hi(noHostCet.kvmMax.TRUE_EXIT_CTLS, ExitCtl.LOAD_CET_STATE),
    'KVM without CET drops LOAD_CET_STATE',
  );
  const noPmu = deriveVmxMsrs(deriveGuestModel(withReg(BASE, 0xa, 0, 'eax', 0)));
  assert.ok(!hi(noPmu.policy.TRUE_ENTRY_CTLS, EntryCtl.LOAD_IA32_PERF_GLOBAL_CTRL));
  assert.ok(!hi(noPmu.policy.TRUE_EXIT_CTLS, ExitCtl.LOAD_IA32_PERF_GLOBAL_CTRL));
  const lean = deriveVmxMsrs(deriveGuestModel(withFeatures(BASE, ['rdtscp', 'xsaves', 'intel_pt'], false)));
  assert.ok(
    !hi(lean.policy.PROCBASED_CTLS2, Proc2Ctl.ENABLE_RDTSCP) &&
      !hi(lean.kvm.PROCBASED_CTLS2, Proc2Ctl.ENABLE_RDTSCP),
    'KVM adjusts RDTSCP itself',
  );
  assert.ok(!hi(lean.policy.PROCBASED_CTLS2, Proc2Ctl.ENABLE_XSAVES));
  assert.equal(lean.policy.MISC & VmxMisc.INTEL_PT, 0n);
  // every tied control is annotated with the CPUID bit behind it
  for (const c of lean.controls) if (c.requires) assert.ok(c.cpuid && c.cpuid.length > 5, c.name);
});

test('derived values: BASIC, fixed MSRs, non-TRUE = TRUE | default-1', () => {
  const d = deriveVmxMsrs(deriveGuestModel(BASE));
  const k = d.kvm;
  assert.equal(k.BASIC & 0x7fff_ffffn, VMCS12_REVISION);
  assert.ok(k.BASIC & VmxBasic.TRUE_CTLS && k.BASIC & VmxBasic.NO_HW_ERROR_CODE_CC);
  assert.equal((k.BASIC >> 32n) & 0x1fffn, 0x1000n);
  assert.equal(k.BASIC & VmxBasic.DUAL_MONITOR, 0n, 'dual-monitor never offered');
  assert.equal(k.CR0_FIXED0, Cr0.PE | Cr0.PG | Cr0.NE);
  assert.equal(k.CR4_FIXED0, Cr4.VMXE);
  assert.equal(k.PINBASED_CTLS, k.TRUE_PINBASED_CTLS | PIN_DEFAULT1);
  assert.equal(k.PROCBASED_CTLS, k.TRUE_PROCBASED_CTLS | PROC_DEFAULT1);
  assert.equal(
    controlLow(k.TRUE_PROCBASED_CTLS) & ((1n << 15n) | (1n << 16n)),
    0n,
    'CR3 load/store exiting may be 0',
  );
  assert.equal(k.EXIT_CTLS, k.TRUE_EXIT_CTLS | EXIT_DEFAULT1);
  assert.equal(k.ENTRY_CTLS, k.TRUE_ENTRY_CTLS | ENTRY_DEFAULT1);
  assert.equal(controlLow(k.PROCBASED_CTLS2), 0n);
  assert.ok(hi(k.PROCBASED_CTLS2, Proc2Ctl.SHADOW_VMCS | Proc2Ctl.ENABLE_EPT));
  assert.equal(d.available, true);
  assert.equal(deriveVmxMsrs(deriveGuestModel(withFeatures(BASE, 'vmx', false))).available, false);
});

test('CR4_FIXED1 follows the guest CPUID: LASS only with LASS (and only where CR4.LASS is not reserved)', () => {
  const arch = deriveGuestModel(BASE, { mode: 'architectural' });
  assert.ok(cr4Fixed1(arch) & Cr4.LASS);
  assert.equal(deriveVmxMsrs(arch).kvm.CR4_FIXED1 & Cr4.LASS, Cr4.LASS);
  assert.equal(
    cr4Fixed1(deriveGuestModel(withFeatures(BASE, 'lass', false), { mode: 'architectural' })) & Cr4.LASS,
    0n,
  );
  assert.equal(cr4Fixed1(deriveGuestModel(BASE)) & Cr4.LASS, 0n, 'kvmExact keeps LASS reserved');
  const f = cr4Fixed1(deriveGuestModel(BASE));
  for (const b of ['PCE', 'VMXE', 'SMEP', 'SMAP', 'PCIDE', 'FSGSBASE', 'LA57', 'CET', 'OSXSAVE'] as const)
    assert.ok(f & Cr4[b], b);
  assert.equal(cr4Fixed1(deriveGuestModel(withFeatures(BASE, 'smep', false))) & Cr4.SMEP, 0n);
});

test("a host baseline without a control removes it from KVM's maximum", () => {
  const host: VmxMsrs = {
    ...DEFAULT_HOST_VMX,
    TRUE_ENTRY_CTLS: DEFAULT_HOST_VMX.TRUE_ENTRY_CTLS & ~(EntryCtl.LOAD_BNDCFGS << 32n),
  };
  const d = deriveVmxMsrs(deriveGuestModel(BASE), { host });
  assert.ok(!hi(d.kvmMax.TRUE_ENTRY_CTLS, EntryCtl.LOAD_BNDCFGS));
  assert.equal(d.controls.find((c) => c.name === 'LOAD_BNDCFGS')!.kvmAllows, false);
  const noEpt = deriveVmxMsrs(deriveGuestModel(BASE), { ept: false });
  assert.ok(!hi(noEpt.kvmMax.PROCBASED_CTLS2, Proc2Ctl.ENABLE_EPT));
  assert.equal(noEpt.kvmMax.VMFUNC, 0n);
});

// ------------------------------------------------------------------ vmx_msrs_test
const MAX = deriveVmxMsrs(deriveGuestModel(BASE)).kvmMax;
const CONTROL_MSRS: VmxMsrName[] = [
  'TRUE_PINBASED_CTLS',
  'TRUE_PROCBASED_CTLS',
  'TRUE_EXIT_CTLS',
  'TRUE_ENTRY_CTLS',
  'PROCBASED_CTLS2',
];

test('vmx_msrs_test: clearing any allowed-1 bit and setting any must-be-1 bit is a legal restriction; restoring the original works', () => {
  let n = 0;
  for (const name of CONTROL_MSRS) {
    const orig = MAX[name];
    for (let b = 0; b < 32; b++) {
      const m = 1n << BigInt(b);
      if (controlHigh(orig) & m && !(controlLow(orig) & m)) {
        ok(checkVmxMsrRestore(MAX, VmxMsr[name], orig & ~(m << 32n)), `${name} clear allowed-1 ${b}`);
        n++;
      }
      if (!(controlLow(orig) & m) && controlHigh(orig) & m)
        ok(checkVmxMsrRestore(MAX, VmxMsr[name], orig | m), `${name} set must-be-1 ${b}`);
    }
    ok(checkVmxMsrRestore(MAX, VmxMsr[name], orig), `${name} restore`);
  }
  assert.ok(n > 40);
  for (const bit of [VmxBasic.INOUT, VmxBasic.TRUE_CTLS, VmxBasic.NO_HW_ERROR_CODE_CC])
    ok(checkVmxMsrRestore(MAX, VmxMsr.BASIC, MAX.BASIC & ~bit));
  ok(checkVmxMsrRestore(MAX, VmxMsr.BASIC, MAX.BASIC));
  for (const bit of [
    VmxMisc.SAVE_EFER_LMA,
    VmxMisc.ACTIVITY_HLT,
    VmxMisc.ACTIVITY_WAIT_SIPI,
    VmxMisc.VMWRITE_ANY_FIELD,
  ])
    ok(checkVmxMsrRestore(MAX, VmxMsr.MISC, MAX.MISC & ~bit));
  for (let b = 0; b < 64; b++)
    if ((MAX.EPT_VPID_CAP >> BigInt(b)) & 1n)
      ok(checkVmxMsrRestore(MAX, VmxMsr.EPT_VPID_CAP, MAX.EPT_VPID_CAP & ~(1n << BigInt(b))));
  ok(checkVmxMsrRestore(MAX, VmxMsr.VMFUNC, 0n));
  ok(checkVmxMsrRestore(MAX, VmxMsr.VMCS_ENUM, 0n));
  ok(checkVmxMsrRestore(MAX, VmxMsr.VMCS_ENUM, (1n << 64n) - 1n));
  ok(checkVmxMsrRestore(MAX, VmxMsr.CR0_FIXED0, MAX.CR0_FIXED0 | Cr0.WP));
});

test('vmx_msrs_test: a userspace write that adds a capability bit is refused', () => {
  for (const name of CONTROL_MSRS) {
    const orig = MAX[name];
    let added = false;
    for (let b = 0; b < 32 && !added; b++) {
      const m = 1n << BigInt(b + 32);
      if (!(orig & m)) {
        no(checkVmxMsrRestore(MAX, VmxMsr[name], orig | m), 'vmx-restore.add-bit', `${name} bit ${b}`);
        added = true;
      }
    }
    assert.ok(added, name);
    const low = controlLow(orig);
    if (low)
      no(checkVmxMsrRestore(MAX, VmxMsr[name], orig & ~(low & -low)), 'vmx-restore.clear-must-be-1', name);
  }
  no(checkVmxMsrRestore(MAX, VmxMsr.BASIC, MAX.BASIC | VmxBasic.DUAL_MONITOR), 'vmx-restore.add-bit');
  no(checkVmxMsrRestore(MAX, VmxMsr.BASIC, MAX.BASIC | VmxBasic.PHYS_ADDR_32), 'vmx-restore.basic-32bit');
  no(checkVmxMsrRestore(MAX, VmxMsr.BASIC, MAX.BASIC + 1n), 'vmx-restore.basic-revision');
  no(checkVmxMsrRestore(MAX, VmxMsr.BASIC, MAX.BASIC & ~(0x1fffn << 32n)), 'vmx-restore.basic-size');
  no(checkVmxMsrRestore(MAX, VmxMsr.MISC, MAX.MISC | VmxMisc.INTEL_PT), 'vmx-restore.add-bit');
  no(checkVmxMsrRestore(MAX, VmxMsr.MISC, (MAX.MISC & ~0x1fn) | 7n), 'vmx-restore.misc-timer-rate');
  no(checkVmxMsrRestore(MAX, VmxMsr.MISC, MAX.MISC | (1n << 16n)), 'vmx-restore.misc-cr3-targets');
  no(checkVmxMsrRestore(MAX, VmxMsr.MISC, MAX.MISC | (1n << 32n)), 'vmx-restore.misc-mseg');
  no(checkVmxMsrRestore(MAX, VmxMsr.EPT_VPID_CAP, MAX.EPT_VPID_CAP | (1n << 8n)), 'vmx-restore.add-bit');
  no(checkVmxMsrRestore(MAX, VmxMsr.VMFUNC, 2n), 'vmx-restore.add-bit');
  no(checkVmxMsrRestore(MAX, VmxMsr.CR0_FIXED0, Cr0.PE | Cr0.NE), 'vmx-restore.fixed0');
  no(checkVmxMsrRestore(MAX, VmxMsr.CR0_FIXED1, MAX.CR0_FIXED1), 'vmx-restore.fixed1');
  no(checkVmxMsrRestore(MAX, VmxMsr.CR4_FIXED1, MAX.CR4_FIXED1), 'vmx-restore.fixed1');
  for (const name of ['PINBASED_CTLS', 'PROCBASED_CTLS', 'EXIT_CTLS', 'ENTRY_CTLS'] as const)
    no(checkVmxMsrRestore(MAX, VmxMsr[name], MAX[name]), 'vmx-restore.non-true', name);
  no(checkVmxMsrRestore(MAX, VmxMsr.BASIC, MAX.BASIC, { vmxon: true }), 'vmx-restore.busy');
  no(checkVmxMsrRestore(MAX, 0x492, 0n), 'vmx-restore.unknown');
  // restoring up to KVM's maximum after a restriction is allowed (f8ae08f9789a)
  const restricted = MAX.TRUE_ENTRY_CTLS & ~(EntryCtl.LOAD_BNDCFGS << 32n);
  ok(checkVmxMsrRestore(MAX, VmxMsr.TRUE_ENTRY_CTLS, restricted));
  ok(checkVmxMsrRestore(MAX, VmxMsr.TRUE_ENTRY_CTLS, MAX.TRUE_ENTRY_CTLS));
  assert.equal(controlMsr(controlLow(restricted), controlHigh(restricted)), restricted);
});
