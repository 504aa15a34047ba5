// Our own tests asserting the behaviour KVM's selftests pin (spec §9.1), over real CPUID tables:
// set_sregs_test, cr4_cpuid_sync_test, xcr0_cpuid_test and xss_msr_test; plus the EFER rules of spec
// §3 (LMSLE refused under every policy, LME frozen while paging, LMA read-only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cr0 } from '../arch/x86/registers/cr0.ts';
import { CR4_BITS, CR4_KVM_ALWAYS_ALLOWED, Cr4, type Cr4Bit } from '../arch/x86/registers/cr4.ts';
import { Efer } from '../arch/x86/registers/efer.ts';
import { Xcr0 } from '../arch/x86/registers/xcr0.ts';
import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { deriveGuestModel, type ContractMode } from './model.ts';
import { checkCr4Write } from './cr.ts';
import { checkEferWrite } from './efer.ts';
import { checkSregs, type SregsControl } from './sregs.ts';
import { checkXsetbv, checkXssWrite, xcr0ValueRefusal } from './xsave.ts';
import { checkMsrWrite } from './msr.ts';
import { RESET_STATE, type ControlState } from './state.ts';
import { barebones, thisMachineKvmSupported, withFeatures, withReg, withVendor } from './fixtures/tables.ts';
import type { Verdict } from './api.ts';

const SREGS0: SregsControl = { cr0: Cr0.PE | Cr0.ET, cr3: 0n, cr4: 0n, efer: 0n, cs: { l: false } };
const HOST = thisMachineKvmSupported();
const FULL = withFeatures(withVendor(HOST, 'GenuineIntel'), [
  'xsave',
  'fsgsbase',
  'smep',
  'smap',
  'pcid',
  'la57',
  'vmx',
  'pku',
  'umip',
  'xsaves',
  'shstk',
  'ibt',
  'lm',
  'nx',
  'svm',
  'fxsr_opt',
  'autoibrs',
]);

function bits(m: bigint): number[] {
  const o: number[] = [];
  for (let i = 0; i < 64; i++) if ((m >> BigInt(i)) & 1n) o.push(i);
  return o;
}
function ok(v: Verdict, what = ''): void {
  assert.ok(v.ok, v.ok ? '' : `${what} ${v.rule}: ${v.reason}`);
}
function no(v: Verdict, rule?: string, what = ''): void {
  assert.equal(v.ok, false, `${what} should be refused`);
  if (rule && !v.ok) assert.equal(v.rule, rule, v.reason);
}

// ------------------------------------------------------------------ set_sregs_test
test('set_sregs_test: a barebones vCPU accepts exactly the always-allowed CR4 bits', () => {
  const m = deriveGuestModel(barebones());
  for (const r of CR4_BITS as readonly Cr4Bit[]) {
    const v = checkSregs(m, { ...SREGS0, cr4: 1n << BigInt(r.bit) });
    if (r.kvm === 'always') ok(v, r.name);
    else no(v, 'cr4.reserved', r.name);
  }
  ok(checkSregs(m, { ...SREGS0, cr4: CR4_KVM_ALWAYS_ALLOWED }));
  assert.deepEqual(
    bits(CR4_KVM_ALWAYS_ALLOWED).map((b) => CR4_BITS.find((r) => r.bit === b)!.name),
    ['VME', 'PVI', 'TSD', 'DE', 'PSE', 'PAE', 'MCE', 'PGE', 'PCE', 'OSFXSR', 'OSXMMEXCPT'],
  );
});

test('set_sregs_test: CR0 bits 63:32, NW without CD and PG without PE are rejected', () => {
  const m = deriveGuestModel(barebones());
  for (let b = 32; b < 64; b++)
    no(checkSregs(m, { ...SREGS0, cr0: SREGS0.cr0 | (1n << BigInt(b)) }), 'cr0.high-reserved', `bit ${b}`);
  no(checkSregs(m, { ...SREGS0, cr0: Cr0.PE | Cr0.NW }), 'cr0.nw-without-cd');
  no(checkSregs(m, { ...SREGS0, cr0: Cr0.PG }), 'cr0.pg-without-pe');
  // KVM_SET_SREGS does not massage CR0: undefined low bits are neither refused nor dropped
  const v = checkSregs(m, { ...SREGS0, cr0: Cr0.PE | (1n << 7n) });
  assert.ok(v.ok && v.effects.value === (Cr0.PE | (1n << 7n)));
});

test('set_sregs_test: a barebones vCPU accepts EFER.SCE and rejects LME, NX, SVME, FFXSR, AUTOIBRS', () => {
  const m = deriveGuestModel(barebones());
  ok(checkSregs(m, { ...SREGS0, efer: Efer.SCE }));
  for (const b of [Efer.LME, Efer.NXE, Efer.SVME, Efer.FFXSR, Efer.AUTOIBRS])
    no(checkSregs(m, { ...SREGS0, efer: b }), 'efer.cpuid', `EFER ${b}`);
});

test('set_sregs_test: with a full CPUID every supported CR4 and EFER bit is settable at once', () => {
  const m = deriveGuestModel(FULL);
  const cr4 = m.cr4Valid;
  for (const name of [
    'UMIP',
    'LA57',
    'VMXE',
    'FSGSBASE',
    'PCIDE',
    'OSXSAVE',
    'SMEP',
    'SMAP',
    'PKE',
    'CET',
  ] as const)
    assert.ok(cr4 & Cr4[name], `${name} supported`);
  ok(checkSregs(m, { ...SREGS0, cr4 }), 'all supported CR4 bits');
  ok(
    checkSregs(m, {
      ...SREGS0,
      efer: Efer.SCE | Efer.NXE | Efer.SVME | Efer.FFXSR | Efer.AUTOIBRS | Efer.LME,
    }),
  );
  // SMXE stays rejected: KVM never supports SMX for guests
  no(checkSregs(deriveGuestModel(withFeatures(FULL, 'smx')), { ...SREGS0, cr4: Cr4.SMXE }), 'cr4.reserved');
});

test('set_sregs_test: IA32_APIC_BASE 1<<10 (x2APIC without enable) is invalid, 1<<11 is valid', () => {
  const m = deriveGuestModel(barebones());
  no(checkSregs(m, { ...SREGS0, apicBase: 1n << 10n }));
  ok(checkSregs(m, { ...SREGS0, apicBase: 1n << 11n }));
  const x2 = deriveGuestModel(withFeatures(FULL, 'x2apic'));
  no(checkSregs(x2, { ...SREGS0, apicBase: 1n << 10n }), 'apic-base.invalid-mode');
  ok(checkSregs(x2, { ...SREGS0, apicBase: (1n << 10n) | (1n << 11n) }));
});

test('KVM_SET_SREGS long-mode consistency (kvm_is_valid_sregs)', () => {
  const m = deriveGuestModel(FULL);
  const lm: SregsControl = {
    cr0: Cr0.PE | Cr0.PG | Cr0.ET,
    cr3: 0x1000n,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.LMA,
    cs: { l: true },
  };
  ok(checkSregs(m, lm));
  no(checkSregs(m, { ...lm, cr4: 0n }), 'sregs.long-mode-needs-pae');
  no(checkSregs(m, { ...lm, efer: Efer.LME }), 'sregs.long-mode-needs-lma');
  no(checkSregs(m, { ...lm, cr3: 1n << 50n }), 'cr3.reserved');
  no(checkSregs(m, { ...SREGS0, efer: Efer.LME | Efer.LMA }), 'sregs.lma-without-paging');
  no(checkSregs(m, { ...SREGS0, cs: { l: true } }), 'sregs.cs-l-outside-long-mode');
  // transitions the guest path refuses are fine here: PCIDE with CR3[11:0]≠0, LA57 in long mode, CET without WP
  ok(checkSregs(m, { ...lm, cr3: 0x1005n, cr4: Cr4.PAE | Cr4.PCIDE | Cr4.LA57 | Cr4.CET }));
  // compatibility mode (CS.L=0) inside long mode is fine
  ok(checkSregs(m, { ...lm, cs: { l: false } }));
});

// ------------------------------------------------------------------ cr4_cpuid_sync_test
test('cr4_cpuid_sync_test: OSXSAVE/PKE changes mark the guest CPUID dirty, from the guest and from userspace', () => {
  const m = deriveGuestModel(FULL);
  const st: ControlState = {
    ...RESET_STATE,
    cr0: Cr0.PE | Cr0.ET | Cr0.PG | Cr0.WP,
    cr4: Cr4.PAE | Cr4.OSXSAVE,
    efer: Efer.LME | Efer.LMA,
    csL: true,
  };
  // userspace clears CR4.OSXSAVE mid-run through KVM_SET_SREGS ...
  const s = checkSregs(m, { cr0: st.cr0, cr3: 0n, cr4: Cr4.PAE, efer: st.efer, cs: { l: true } });
  assert.ok(s.ok && s.effects.cpuidDirty);
  const cleared: ControlState = { ...st, cr4: Cr4.PAE };
  // ... XSETBV now raises #UD ...
  no(checkXsetbv(m, cleared, { cpl: 0, ecx: 0, value: 1n }), 'xsetbv.osxsave');
  const ud = checkXsetbv(m, cleared, { cpl: 0, ecx: 0, value: 1n });
  assert.ok(!ud.ok && ud.fault === 'UD');
  // ... and the guest restores it: CPUID.1:ECX.OSXSAVE must follow, so CPUID is dirty again
  const back = checkCr4Write(m, cleared, Cr4.PAE | Cr4.OSXSAVE);
  assert.ok(back.ok && back.effects.cpuidDirty);
  const pke = checkCr4Write(m, st, st.cr4 | Cr4.PKE);
  assert.ok(pke.ok && pke.effects.cpuidDirty);
  const other = checkCr4Write(m, st, st.cr4 | Cr4.FSGSBASE);
  assert.ok(other.ok && !other.effects.cpuidDirty);
});

// ------------------------------------------------------------------ xcr0_cpuid_test
function xcr0Case(name: string, t: CpuidTable): void {
  test(`xcr0_cpuid_test over ${name}: the supported XCR0 obeys the dependencies, XSETBV(FP) and XSETBV(supported) succeed, any other bit #GPs`, () => {
    const m = deriveGuestModel(t);
    const supported = m.xcr0Valid;
    assert.equal(xcr0ValueRefusal(m, supported), undefined);
    const st: ControlState = { ...RESET_STATE, cr4: Cr4.OSXSAVE };
    ok(checkXsetbv(m, st, { cpl: 0, ecx: 0, value: Xcr0.X87 }));
    const all = checkXsetbv(m, st, { cpl: 0, ecx: 0, value: supported });
    ok(all);
    assert.equal(all.ok && all.effects.cpuidDirty, supported > 3n);
    for (let b = 0; b < 64; b++) {
      const bit = 1n << BigInt(b);
      if (supported & bit) continue;
      const v = checkXsetbv(m, st, { cpl: 0, ecx: 0, value: supported | bit });
      assert.ok(!v.ok && v.fault === 'GP', `bit ${b}`);
    }
    no(checkXsetbv(m, st, { cpl: 3, ecx: 0, value: 1n }), 'xsetbv.cpl');
    no(checkXsetbv(m, st, { cpl: 0, ecx: 1, value: 1n }), 'xsetbv.index');
    no(checkXsetbv(m, st, { cpl: 0, ecx: 0, value: 0n }), 'xcr0.x87');
  });
}
xcr0Case('the this-machine KVM table (x87|SSE|AVX|AVX-512)', HOST);
const intelAll = withReg(withReg(FULL, 0xd, 0, 'eax', 0x602ff), 0xd, 0, 'edx', 0);
xcr0Case('an Intel table with MPX, PKRU and AMX enumerated', intelAll);

test('XCR0 dependency rules, each positive and negative', () => {
  const m = deriveGuestModel(intelAll);
  const st: ControlState = { ...RESET_STATE, cr4: Cr4.OSXSAVE };
  const x = (value: bigint): Verdict => checkXsetbv(m, st, { cpl: 0, ecx: 0, value });
  no(x(Xcr0.X87 | Xcr0.AVX), 'xcr0.avx-without-sse');
  ok(x(Xcr0.X87 | Xcr0.SSE | Xcr0.AVX));
  no(x(Xcr0.X87 | Xcr0.BNDREGS), 'xcr0.mpx-pair');
  no(x(Xcr0.X87 | Xcr0.BNDCSR), 'xcr0.mpx-pair');
  ok(x(Xcr0.X87 | Xcr0.BNDREGS | Xcr0.BNDCSR));
  no(x(Xcr0.X87 | Xcr0.SSE | Xcr0.OPMASK | Xcr0.ZMM_HI256 | Xcr0.HI16_ZMM), 'xcr0.avx512-without-avx');
  no(x(Xcr0.X87 | Xcr0.SSE | Xcr0.AVX | Xcr0.OPMASK), 'xcr0.avx512-partial');
  ok(x(Xcr0.X87 | Xcr0.SSE | Xcr0.AVX | Xcr0.OPMASK | Xcr0.ZMM_HI256 | Xcr0.HI16_ZMM));
  no(x(Xcr0.X87 | Xcr0.XTILEDATA), 'xcr0.amx-pair');
  ok(x(Xcr0.X87 | Xcr0.XTILECFG | Xcr0.XTILEDATA));
  // a backend that supports less (e.g. SVM strips MPX) narrows XCR0
  const svm = deriveGuestModel(intelAll, { supportedXcr0: 0x2e7n });
  no(
    checkXsetbv(svm, st, { cpl: 0, ecx: 0, value: Xcr0.X87 | Xcr0.BNDREGS | Xcr0.BNDCSR }),
    'xcr0.unsupported',
  );
});

// ------------------------------------------------------------------ xss_msr_test
test('xss_msr_test: IA32_XSS accepts only supported bits; the rest #GP', () => {
  const t = withReg(FULL, 0xd, 1, 'ecx', 0x1900); // PT, CET_U, CET_S enumerated
  const m = deriveGuestModel(t);
  assert.equal(m.xssValid, 0x1800n, 'KVM never offers PT');
  ok(checkXssWrite(m, RESET_STATE, 0x1800n));
  ok(checkMsrWrite(m, RESET_STATE, 0xda0, 0x800n));
  for (let b = 0; b < 64; b++) {
    if (b === 11 || b === 12) continue;
    const v = checkXssWrite(m, RESET_STATE, 1n << BigInt(b));
    assert.ok(!v.ok && v.fault === 'GP', `bit ${b}`);
  }
  const unchanged = checkXssWrite(m, { ...RESET_STATE, xss: 0x800n }, 0x800n);
  assert.ok(unchanged.ok && !unchanged.effects.cpuidDirty);
});

// ------------------------------------------------------------------ EFER
test('EFER.LMSLE (and TCE) is refused under every policy, mode and path', () => {
  const tables: [string, CpuidTable][] = [
    ['barebones', barebones()],
    ['this machine', HOST],
    ['full + SVM, NO_LMSL clear', withFeatures(FULL, 'efer_lmsle_mbz', false)],
    ['full + SVM, NO_LMSL set', withFeatures(FULL, 'efer_lmsle_mbz', true)],
    ['full + TCE', withFeatures(FULL, 'tce')],
  ];
  for (const [name, t] of tables)
    for (const mode of ['kvmExact', 'architectural'] as ContractMode[])
      for (const host of [false, true]) {
        const m = deriveGuestModel(t, { mode, hostSupported: host ? t : undefined });
        const v = checkEferWrite(m, RESET_STATE, Efer.LMSLE, { hostInitiated: host });
        no(v, 'efer.lmsle', `${name} ${mode} host=${host}`);
        assert.ok(!v.ok && v.fault === 'GP' && /LMSLE \(bit 13\)/.test(v.reason));
        no(checkSregs(m, { ...SREGS0, efer: Efer.LMSLE }), 'efer.lmsle');
        no(
          checkMsrWrite(m, RESET_STATE, 0xc0000080, Efer.SCE | Efer.LMSLE, { hostInitiated: host }),
          'efer.lmsle',
        );
        no(checkEferWrite(m, RESET_STATE, Efer.TCE, { hostInitiated: host }), 'efer.reserved');
      }
});

test('EFER: LME cannot change while paging; LMA is kept; userspace skips both CPUID and transition checks', () => {
  const m = deriveGuestModel(FULL);
  const paging: ControlState = { ...RESET_STATE, cr0: Cr0.PE | Cr0.PG | Cr0.ET };
  no(checkEferWrite(m, paging, Efer.LME), 'efer.lme-change-while-paging');
  ok(checkEferWrite(m, { ...RESET_STATE, cr0: Cr0.PE | Cr0.ET }, Efer.LME));
  ok(checkEferWrite(m, paging, Efer.LME, { hostInitiated: true }));
  const lma: ControlState = { ...paging, efer: Efer.LME | Efer.LMA };
  const v = checkEferWrite(m, lma, Efer.LME | Efer.NXE);
  assert.ok(v.ok && v.effects.value === (Efer.LME | Efer.LMA | Efer.NXE), 'written LMA=0 is discarded');
  assert.ok(v.ok && v.effects.mmuReset, 'NXE change resets the MMU');
  const sce = checkEferWrite(m, lma, Efer.LME | Efer.LMA | Efer.SCE);
  assert.ok(sce.ok && !sce.effects.mmuReset);
  // with a KVM_GET_SUPPORTED_CPUID lacking SVM, userspace cannot set SVME either (efer_reserved_bits)
  const noSvm = deriveGuestModel(FULL, { hostSupported: withFeatures(FULL, 'svm', false) });
  no(checkEferWrite(noSvm, RESET_STATE, Efer.SVME, { hostInitiated: true }), 'efer.reserved');
});
