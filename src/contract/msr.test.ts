// The MSR table rules (spec §6; msrs_test, set_sregs_test's APIC_BASE case, vmx_msrs_test's FEAT_CTL
// cases): CPUID gating, userspace differences, reserved bits, canonical checks, value adjustment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MSR_TABLE, Msr, msrDef } from '../arch/x86/msr/table.ts';
import { requiredFeatures } from '../arch/x86/registers/bits.ts';
import { featureByName } from '../arch/x86/cpuid/features.ts';
import { deriveGuestModel } from './model.ts';
import { checkMsrRead, checkMsrWrite, kvmCpuidBase } from './msr.ts';
import { deriveVmxMsrs } from './vmx.ts';
import { RESET_STATE } from './state.ts';
import { thisMachineKvmSupported, withFeatures, withReg, withVendor } from './fixtures/tables.ts';
import type { Verdict } from './api.ts';

const AMD = thisMachineKvmSupported();
const INTEL = withFeatures(withVendor(AMD, 'GenuineIntel'), [
  'vmx',
  'mpx',
  'shstk',
  'ibt',
  'rdtscp',
  'x2apic',
  'tsc_deadline_timer',
  'arch_capabilities',
  'spec_ctrl',
  'intel_stibp',
  'la57',
  'pks',
  'mtrr',
  'pat',
  'xsaves',
  'sgx',
  'sgx_lc',
  'smx',
]);
const MI = deriveGuestModel(INTEL);
const MA = deriveGuestModel(AMD);
const S = RESET_STATE;

function ok(v: Verdict, what = ''): bigint {
  assert.ok(v.ok, v.ok ? '' : `${what} ${v.rule}: ${v.reason}`);
  return v.ok ? v.effects.value : 0n;
}
function no(v: Verdict, rule: string, what = ''): string {
  assert.equal(v.ok, false, `${what} should be refused`);
  if (!v.ok) {
    assert.equal(v.rule, rule, v.reason);
    assert.equal(v.fault, 'GP');
    return v.reason;
  }
  return '';
}

test('MSR table: indices are unique, ranges do not overlap, gates name real features', () => {
  const seen = new Map<number, string>();
  for (const d of MSR_TABLE)
    for (let i = d.index; i < d.index + (d.count ?? 1); i++) {
      assert.ok(!seen.has(i), `0x${i.toString(16)} in ${d.name} and ${seen.get(i)}`);
      seen.set(i, d.name);
    }
  for (const d of MSR_TABLE)
    for (const f of requiredFeatures(d.gate)) assert.ok(featureByName(f), `${d.name}: ${f}`);
  assert.equal(msrDef(0x8ff)?.name, 'x2APIC registers');
  assert.equal(msrDef(0x900), undefined);
  assert.equal(msrDef(0x491)?.special, 'vmx');
  assert.equal(msrDef(0x492), undefined, 'PROCBASED_CTLS3 is not emulated');
});

test('every gated MSR: guest access #GPs without the feature and names the CPUID bit; userspace may read and write 0', () => {
  let n = 0;
  for (const d of MSR_TABLE) {
    if (!d.gate || d.special === 'xss') continue;
    const t = withFeatures(INTEL, d.gate, false);
    const m = deriveGuestModel(t);
    const r = checkMsrRead(m, d.index);
    no(r, 'msr.absent', d.name);
    if (!r.ok) assert.match(r.reason, /CPUID\.\(EAX=/);
    no(checkMsrWrite(m, S, d.index, 0n), 'msr.absent', d.name);
    if (d.absentIn || d.hostIgnoresGate) continue;
    ok(checkMsrRead(m, d.index, { hostInitiated: true }), d.name);
    // IA32_MCG_CAP: KVM_SET_MSRS never writes it (KVM_X86_SETUP_MCE does), gate or not
    if (d.index === Msr.MCG_CAP) {
      no(checkMsrWrite(m, S, d.index, 0n, { hostInitiated: true }), 'mce.mcg-cap-read-only', d.name);
      continue;
    }
    ok(checkMsrWrite(m, S, d.index, 0n, { hostInitiated: true }), d.name);
    no(checkMsrWrite(m, S, d.index, 4n, { hostInitiated: true }), 'msr.absent', d.name);
    n++;
  }
  assert.ok(n >= 15, `${n} gated MSRs`);
});

test('unknown MSRs #GP; write-only, read-only and userspace-only MSRs', () => {
  no(checkMsrRead(MI, Msr.SMBASE), 'msr.host-only');
  no(checkMsrWrite(MI, S, Msr.SMBASE, 0x30000n), 'msr.host-only');
  ok(checkMsrWrite(MI, S, Msr.SMBASE, 0x30000n, { hostInitiated: true }));
  no(checkMsrWrite(MI, S, Msr.PLATFORM_INFO, 0n), 'msr.read-only');
  no(checkMsrWrite(MI, S, Msr.DEBUGCTL, 0x4n), 'debugctl.reserved');
  // kvm_intel drops BTF/LBR it cannot virtualize instead of faulting (vmx_is_valid_debugctl)
  assert.equal(ok(checkMsrWrite(MI, S, Msr.DEBUGCTL, 0x3n)), 0n);
  no(checkMsrRead(MI, 0x12345), 'msr.unknown');
  no(checkMsrWrite(MI, S, 0x492, 0n), 'msr.unknown');
  no(checkMsrRead(MI, Msr.PRED_CMD), 'msr.write-only');
  ok(checkMsrWrite(MI, S, Msr.PRED_CMD, 1n));
  no(checkMsrWrite(MI, S, Msr.PRED_CMD, 2n), 'msr.reserved');
  no(checkMsrWrite(MI, S, Msr.ARCH_CAPABILITIES, 1n), 'msr.read-only');
  ok(checkMsrWrite(MI, S, Msr.ARCH_CAPABILITIES, 1n, { hostInitiated: true }));
  no(
    checkMsrWrite(MI, S, Msr.ARCH_CAPABILITIES, 3n, { hostInitiated: true, vcpuHasRun: true, current: 1n }),
    'msr.immutable-after-run',
  );
  ok(checkMsrWrite(MI, S, Msr.ARCH_CAPABILITIES, 1n, { hostInitiated: true, vcpuHasRun: true, current: 1n }));
});

test('canonical checks: FS/GS/KERNEL_GS_BASE, LSTAR, CSTAR #GP; SYSENTER_ESP/EIP are canonicalized (truncated on AMD)', () => {
  const m48 = deriveGuestModel(withFeatures(INTEL, 'la57', false));
  const nonCanon = 0x0000_8000_0000_0000n;
  for (const i of [Msr.FS_BASE, Msr.GS_BASE, Msr.KERNEL_GS_BASE, Msr.LSTAR, Msr.CSTAR]) {
    no(checkMsrWrite(m48, S, i, nonCanon), 'msr.non-canonical', `0x${i.toString(16)}`);
    assert.equal(ok(checkMsrWrite(m48, S, i, 0xffff_8000_0000_0000n)), 0xffff_8000_0000_0000n);
    assert.equal(
      ok(checkMsrWrite(MI, S, i, nonCanon)),
      nonCanon,
      'canonical with 57 bits when the guest has LA57',
    );
  }
  assert.equal(ok(checkMsrWrite(m48, S, Msr.SYSENTER_EIP, nonCanon)), 0xffff_8000_0000_0000n);
  assert.equal(ok(checkMsrWrite(MA, S, Msr.SYSENTER_ESP, 0x1234_5678_9abc_def0n)), 0x9abc_def0n);
});

test('TSC_AUX: needs RDTSCP or RDPID; Intel-compatible guests #GP on bits 63:32, AMD guests truncate', () => {
  no(checkMsrWrite(MI, S, Msr.TSC_AUX, 1n << 32n), 'msr.invalid');
  assert.equal(ok(checkMsrWrite(MI, S, Msr.TSC_AUX, 7n)), 7n);
  const amd = deriveGuestModel(withFeatures(AMD, 'rdtscp'));
  assert.equal(ok(checkMsrWrite(amd, S, Msr.TSC_AUX, (1n << 32n) | 7n)), 7n);
  const rdpidOnly = deriveGuestModel(withFeatures(withFeatures(INTEL, 'rdtscp', false), 'rdpid'));
  ok(checkMsrWrite(rdpidOnly, S, Msr.TSC_AUX, 1n));
  no(
    checkMsrWrite(deriveGuestModel(withFeatures(INTEL, ['rdtscp', 'rdpid'], false)), S, Msr.TSC_AUX, 1n),
    'msr.absent',
  );
});

test('PAT: every byte must be 0, 1, 4, 5, 6 or 7', () => {
  ok(checkMsrWrite(MI, S, Msr.PAT, 0x0007_0406_0007_0406n));
  for (const bad of [2n, 3n, 8n, 0xffn])
    no(checkMsrWrite(MI, S, Msr.PAT, bad << 40n), 'msr.invalid', `byte ${bad}`);
});

test('MTRRs: def type, variable base/mask and fixed ranges', () => {
  ok(checkMsrWrite(MI, S, Msr.MTRR_DEF_TYPE, 0xc06n));
  no(checkMsrWrite(MI, S, Msr.MTRR_DEF_TYPE, 0x1000n), 'msr.reserved');
  no(checkMsrWrite(MI, S, Msr.MTRR_DEF_TYPE, 2n), 'msr.invalid');
  ok(checkMsrWrite(MI, S, 0x200, 0x8000_0006n));
  no(checkMsrWrite(MI, S, 0x200, 0x8000_0106n), 'msr.invalid');
  no(checkMsrWrite(MI, S, 0x202, 1n << 50n), 'msr.invalid');
  ok(checkMsrWrite(MI, S, 0x201, 0xffff_ffff_f800n));
  no(checkMsrWrite(MI, S, 0x201, 0x7ffn), 'msr.invalid');
  ok(checkMsrWrite(MI, S, Msr.MTRR_FIX64K_00000, 0x0606_0606_0606_0606n));
  no(checkMsrWrite(MI, S, 0x26f, 0x07n), 'msr.invalid');
  no(checkMsrWrite(MI, S, Msr.MTRRCAP, 0n), 'msr.read-only');
});

test('APIC_BASE: reserved bits, invalid mode, guest mode transitions', () => {
  const x2 = MI;
  ok(checkMsrWrite(x2, S, Msr.APIC_BASE, 0xfee0_0900n));
  no(checkMsrWrite(x2, S, Msr.APIC_BASE, 0xfee0_0400n), 'apic-base.invalid-mode');
  no(checkMsrWrite(x2, S, Msr.APIC_BASE, 0xfee0_0901n), 'apic-base.reserved');
  no(
    checkMsrWrite(x2, S, Msr.APIC_BASE, 0xfee0_0800n, { current: 0xfee0_0c00n }),
    'apic-base.x2apic-to-xapic',
  );
  ok(checkMsrWrite(x2, S, Msr.APIC_BASE, 0xfee0_0800n, { current: 0xfee0_0c00n, hostInitiated: true }));
  no(
    checkMsrWrite(x2, S, Msr.APIC_BASE, 0xfee0_0c00n, { current: 0xfee0_0000n }),
    'apic-base.disabled-to-x2apic',
  );
  const noX2 = deriveGuestModel(withFeatures(INTEL, 'x2apic', false));
  const r = no(checkMsrWrite(noX2, S, Msr.APIC_BASE, 0xfee0_0c00n), 'apic-base.reserved');
  assert.match(r, /CPUID\.\(EAX=1\):ECX\[21\] X2APIC/);
  const en = checkMsrWrite(x2, S, Msr.APIC_BASE, 0xfee0_0000n, { current: 0xfee0_0800n });
  assert.ok(en.ok && en.effects.cpuidDirty, 'CPUID.1:EDX.APIC mirrors APIC_BASE.EN');
});

test('IA32_FEATURE_CONTROL (vmx_msrs_test): guest bits follow VMX/SGX/SGX_LC, userspace may set any KVM-supported bit, locked → #GP', () => {
  ok(checkMsrWrite(MI, S, Msr.FEAT_CTL, 0x5n | (1n << 17n) | (1n << 18n)));
  const noVmx = deriveGuestModel(withFeatures(INTEL, ['vmx', 'sgx', 'sgx_lc'], false));
  const r = no(checkMsrWrite(noVmx, S, Msr.FEAT_CTL, 0x5n), 'feat-ctl.reserved');
  assert.match(r, /CPUID\.\(EAX=1\):ECX\[5\] VMX/);
  no(checkMsrWrite(noVmx, S, Msr.FEAT_CTL, 1n << 18n), 'feat-ctl.reserved');
  // written by userspace even after clearing the CPUID bits
  ok(
    checkMsrWrite(noVmx, S, Msr.FEAT_CTL, 0x7n | (1n << 17n) | (1n << 18n) | (1n << 20n), {
      hostInitiated: true,
    }),
  );
  no(checkMsrWrite(noVmx, S, Msr.FEAT_CTL, 1n << 3n, { hostInitiated: true }), 'feat-ctl.reserved');
  no(checkMsrWrite(MI, S, Msr.FEAT_CTL, 0x5n, { current: 1n }), 'feat-ctl.locked');
  no(checkMsrRead(MA, Msr.FEAT_CTL), 'msr.absent');
});

test('MISC_ENABLE: BTS/PEBS_UNAVAIL are read-only, EMON writes are ignored', () => {
  no(checkMsrWrite(MI, S, Msr.MISC_ENABLE, 0n, { current: 0x1800n }), 'misc-enable.read-only');
  assert.equal(ok(checkMsrWrite(MI, S, Msr.MISC_ENABLE, 0x1880n, { current: 0x1800n })), 0x1800n);
  assert.equal(ok(checkMsrWrite(MI, S, Msr.MISC_ENABLE, 0n, { current: 0x1800n, hostInitiated: true })), 0n);
});

test('SPEC_CTRL: bits follow STIBP/SSBD; BNDCFGS: MPX, reserved 11:2, canonical base', () => {
  ok(checkMsrWrite(MI, S, Msr.SPEC_CTRL, 3n));
  no(checkMsrWrite(MI, S, Msr.SPEC_CTRL, 4n), 'msr.reserved');
  ok(checkMsrWrite(deriveGuestModel(withFeatures(INTEL, 'spec_ctrl_ssbd')), S, Msr.SPEC_CTRL, 4n));
  ok(checkMsrWrite(MI, S, Msr.BNDCFGS, 0xffff_8000_0000_1003n));
  no(checkMsrWrite(MI, S, Msr.BNDCFGS, 0x4n), 'msr.reserved');
  const m48 = deriveGuestModel(withFeatures(INTEL, 'la57', false));
  no(checkMsrWrite(m48, S, Msr.BNDCFGS, 0x0000_8000_0000_0001n), 'msr.non-canonical');
});

test('CET MSRs: U_CET/S_CET validity, PLx_SSP canonical and 4-byte aligned', () => {
  ok(checkMsrWrite(MI, S, Msr.U_CET, 0x3n));
  no(checkMsrWrite(MI, S, Msr.S_CET, 1n << 6n), 'msr.invalid');
  no(checkMsrWrite(MI, S, Msr.S_CET, (1n << 10n) | (1n << 11n)), 'msr.invalid');
  const ibtOnly = deriveGuestModel(withFeatures(INTEL, 'shstk', false));
  no(checkMsrWrite(ibtOnly, S, Msr.U_CET, 1n), 'msr.invalid');
  ok(checkMsrWrite(ibtOnly, S, Msr.U_CET, 1n << 2n));
  no(checkMsrRead(ibtOnly, Msr.PL0_SSP), 'msr.absent');
  ok(checkMsrWrite(MI, S, Msr.PL3_SSP, 0x7fff_f000n));
  no(checkMsrWrite(MI, S, Msr.PL3_SSP, 0x7fff_f002n), 'msr.reserved');
});

test('PKRS never exists under KVM; architectural mode follows CPUID PKS', () => {
  no(checkMsrRead(MI, Msr.PKRS), 'msr.absent');
  no(checkMsrWrite(MI, S, Msr.PKRS, 0n, { hostInitiated: true }), 'msr.absent');
  const arch = deriveGuestModel(INTEL, { mode: 'architectural' });
  ok(checkMsrWrite(arch, S, Msr.PKRS, 0x5555_5555n));
  no(checkMsrWrite(arch, S, Msr.PKRS, 1n << 32n), 'msr.reserved');
});

test('x2APIC range needs x2APIC; KVM PV MSRs need their 0x40000001 bit (with enforcement)', () => {
  ok(checkMsrRead(MI, 0x802));
  no(checkMsrRead(deriveGuestModel(withFeatures(INTEL, 'x2apic', false)), 0x830), 'msr.absent');
  const base = kvmCpuidBase(MI);
  assert.equal(base, 0x40000000, 'the fixture carries KVM leaves');
  const pv = MI.table.reg(0x40000001, 0, 'eax');
  assert.ok(pv & (1 << 3), 'CLOCKSOURCE2 offered');
  ok(checkMsrWrite(MI, S, Msr.KVM_SYSTEM_TIME_NEW, 0x1000n | 1n));
  const noClock = deriveGuestModel(withReg(INTEL, 0x40000001, 0, 'eax', pv & ~(1 << 3)));
  no(checkMsrWrite(noClock, S, Msr.KVM_SYSTEM_TIME_NEW, 1n), 'msr.absent');
  ok(
    checkMsrWrite(
      deriveGuestModel(withReg(INTEL, 0x40000001, 0, 'eax', pv & ~(1 << 3)), { enforcePvCpuid: false }),
      S,
      Msr.KVM_SYSTEM_TIME_NEW,
      1n,
    ),
  );
  no(checkMsrWrite(MI, S, Msr.KVM_STEAL_TIME, 0x1002n), 'msr.reserved');
});

test('VMX capability MSRs: guest RDMSR needs VMX, guest WRMSR #GPs, userspace writes go through the restore rules', () => {
  ok(checkMsrRead(MI, 0x480));
  no(checkMsrRead(MA, 0x480), 'msr.absent');
  no(checkMsrWrite(MI, S, 0x48d, 0n), 'msr.vmx-read-only');
  const vmxMax = deriveVmxMsrs(MI).kvmMax;
  ok(checkMsrWrite(MI, S, 0x48b, vmxMax.PROCBASED_CTLS2, { hostInitiated: true, vmxMax }));
  const r = checkMsrWrite(MI, S, 0x48b, vmxMax.PROCBASED_CTLS2 | (1n << 63n), {
    hostInitiated: true,
    vmxMax,
  });
  assert.ok(!r.ok && r.rule === 'vmx-restore.add-bit');
});
