// Generated bit × feature matrix (DESIGN.md §3.3): for every row of the CR0, CR4, EFER, XCR0 and XSS
// tables, a write with the row's CPUID feature present is accepted and with it absent is refused with
// the right exception and a reason naming the CPUID bit; under both contract modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CR0_BITS, Cr0 } from '../arch/x86/registers/cr0.ts';
import { CR4_BITS, Cr4, type Cr4Bit } from '../arch/x86/registers/cr4.ts';
import { EFER_BITS, Efer, type EferBit } from '../arch/x86/registers/efer.ts';
import { XCR0_BITS, Xcr0, XCR0_AVX512, XCR0_AMX, XCR0_MPX } from '../arch/x86/registers/xcr0.ts';
import { XSS_BITS } from '../arch/x86/registers/xss.ts';
import { requiredFeatures } from '../arch/x86/registers/bits.ts';
import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { featureText } from './features.ts';
import { deriveGuestModel, xcr0EnumText, xssEnumText, type ContractMode } from './model.ts';
import { checkCr0Write, checkCr4Write } from './cr.ts';
import { checkEferWrite } from './efer.ts';
import { checkXsetbv, checkXssWrite } from './xsave.ts';
import { RESET_STATE, type ControlState } from './state.ts';
import { thisMachineKvmSupported, withFeatures, withReg, withVendor } from './fixtures/tables.ts';
import type { Verdict } from './api.ts';

const MODES: readonly ContractMode[] = ['kvmExact', 'architectural'];

/** The fixture with every feature any register row names, and leaf 0xD enumerating every component. */
function fullTable(): CpuidTable {
  let t = withVendor(thisMachineKvmSupported(), 'GenuineIntel');
  const names = new Set<string>(['xsave', 'xsaves', 'xsavec', 'lm', 'nx', 'syscall']);
  for (const r of [...CR4_BITS, ...EFER_BITS, ...XCR0_BITS, ...XSS_BITS] as {
    requires?: string | readonly string[];
  }[])
    for (const f of requiredFeatures(r.requires as never)) names.add(f);
  t = withFeatures(t, [...names] as never);
  let x0 = 0;
  for (const r of XCR0_BITS) if (r.bit < 32) x0 |= 1 << r.bit;
  let xs = 0;
  for (const r of XSS_BITS) xs |= 1 << r.bit;
  t = withReg(t, 0xd, 0, 'eax', x0);
  t = withReg(t, 0xd, 1, 'ecx', xs);
  return t;
}
const FULL = fullTable();

function isRefusal(v: Verdict): v is Extract<Verdict, { ok: false }> {
  return !v.ok;
}

// ---------------------------------------------------------------- CR4
/** A state in which the bit can legally be set on its own (long mode, WP, CR3 PCID 0), except LA57,
 *  which cannot change with LMA=1, and is tried from protected mode without paging. */
function cr4StateFor(row: Cr4Bit): { state: ControlState; value: bigint } {
  const m = 1n << BigInt(row.bit);
  if (row.name === 'LA57') return { state: { ...RESET_STATE, cr0: Cr0.PE | Cr0.ET | Cr0.WP }, value: m };
  const state: ControlState = {
    ...RESET_STATE,
    cr0: Cr0.PE | Cr0.ET | Cr0.WP | Cr0.PG,
    cr4: Cr4.PAE,
    efer: Efer.LME | Efer.LMA | Efer.SCE,
    csL: true,
  };
  return { state, value: Cr4.PAE | m };
}

for (const mode of MODES) {
  for (const row of CR4_BITS as readonly Cr4Bit[]) {
    const expectPresent = mode === 'kvmExact' ? row.kvm !== 'never' : !row.archNever;
    test(`CR4.${row.name} (bit ${row.bit}) with its feature present: ${expectPresent ? 'accepted' : 'refused'} [${mode}]`, () => {
      const { state, value } = cr4StateFor(row);
      const v = checkCr4Write(deriveGuestModel(FULL, { mode }), state, value);
      if (expectPresent) assert.equal(v.ok, true, isRefusal(v) ? v.reason : '');
      else {
        assert.ok(isRefusal(v));
        assert.equal(v.fault, 'GP');
        assert.equal(v.rule, 'cr4.reserved');
        assert.match(v.reason, new RegExp(`CR4\\.${row.name} \\(bit ${row.bit}\\) is reserved`));
      }
    });
    if (!row.requires) continue;
    const expectAbsent = mode === 'kvmExact' && row.kvm === 'always';
    test(`CR4.${row.name} (bit ${row.bit}) without ${requiredFeatures(row.requires).join('/')}: ${expectAbsent ? 'accepted (KVM always allows it)' : 'refused'} [${mode}]`, () => {
      const { state, value } = cr4StateFor(row);
      const t = withFeatures(FULL, row.requires!, false);
      const v = checkCr4Write(deriveGuestModel(t, { mode }), state, value);
      if (expectAbsent) assert.equal(v.ok, true, isRefusal(v) ? v.reason : '');
      else {
        assert.ok(isRefusal(v));
        assert.equal(v.fault, 'GP');
        assert.equal(v.rule, 'cr4.reserved');
        for (const f of requiredFeatures(row.requires))
          assert.ok(v.reason.includes(featureText(f)), `${v.reason} should name ${featureText(f)}`);
      }
    });
  }
  test(`CR4 undefined bits are refused in every position [${mode}]`, () => {
    const model = deriveGuestModel(FULL, { mode });
    const defined = new Set<number>(CR4_BITS.map((r) => r.bit));
    let n = 0;
    for (let b = 0; b < 64; b++) {
      if (defined.has(b)) continue;
      const v = checkCr4Write(model, RESET_STATE, 1n << BigInt(b));
      assert.ok(isRefusal(v) && v.rule === 'cr4.reserved' && v.reason.includes(`bit ${b}`), `bit ${b}`);
      n++;
    }
    assert.equal(n, 64 - CR4_BITS.length);
  });
}

test('CR4.LASS: refused without LASS in both modes, allowed with LASS only in architectural mode', () => {
  const lassOff = withFeatures(FULL, 'lass', false);
  const st = { ...RESET_STATE, cr0: Cr0.PE | Cr0.ET };
  for (const mode of MODES) {
    const v = checkCr4Write(deriveGuestModel(lassOff, { mode }), st, Cr4.LASS);
    assert.ok(isRefusal(v));
    assert.match(v.reason, /CR4\.LASS \(bit 27\) is reserved/);
    assert.match(v.reason, /CPUID\.\(EAX=7,ECX=1\):EAX\[6\] LASS/);
  }
  assert.equal(checkCr4Write(deriveGuestModel(FULL, { mode: 'architectural' }), st, Cr4.LASS).ok, true);
  const exact = checkCr4Write(deriveGuestModel(FULL, { mode: 'kvmExact' }), st, Cr4.LASS);
  assert.ok(isRefusal(exact) && /KVM keeps it reserved/.test(exact.reason));
  // the exact sentence of the issue, in architectural mode
  const arch = checkCr4Write(deriveGuestModel(lassOff, { mode: 'architectural' }), st, Cr4.LASS);
  assert.ok(isRefusal(arch));
  assert.equal(arch.reason, 'CR4.LASS (bit 27) is reserved: guest CPUID.(EAX=7,ECX=1):EAX[6] LASS is 0');
});

// ---------------------------------------------------------------- CR0
for (const mode of MODES) {
  const model = deriveGuestModel(FULL, { mode });
  for (const row of CR0_BITS) {
    test(`CR0.${row.name} (bit ${row.bit}) is settable (no CPUID gate) [${mode}]`, () => {
      let value = 1n << BigInt(row.bit);
      if (row.name === 'PG') value |= Cr0.PE;
      if (row.name === 'NW') value |= Cr0.CD;
      const v = checkCr0Write(model, RESET_STATE, value);
      assert.ok(v.ok, isRefusal(v) ? v.reason : '');
      assert.equal(v.effects.value & value, value);
      assert.equal(v.effects.value & Cr0.ET, Cr0.ET, 'ET forced to 1');
    });
  }
  test(`CR0 bits 63:32 are refused with #GP, undefined bits 31:0 are dropped [${mode}]`, () => {
    const defined = new Set<number>(CR0_BITS.map((r) => r.bit));
    for (let b = 0; b < 64; b++) {
      if (defined.has(b)) continue;
      const v = checkCr0Write(model, RESET_STATE, Cr0.PE | (1n << BigInt(b)));
      if (b >= 32) assert.ok(isRefusal(v) && v.fault === 'GP' && v.rule === 'cr0.high-reserved', `bit ${b}`);
      else {
        assert.ok(v.ok, `bit ${b}`);
        assert.equal(v.effects.value, Cr0.PE | Cr0.ET, `bit ${b} dropped`);
      }
    }
  });
}

// ---------------------------------------------------------------- EFER
for (const mode of MODES) {
  for (const row of EFER_BITS as readonly EferBit[]) {
    const value = 1n << BigInt(row.bit);
    const present = row.kvm !== 'never';
    test(`EFER.${row.name} (bit ${row.bit}) with its feature present: ${present ? 'accepted' : 'refused'} [${mode}]`, () => {
      const v = checkEferWrite(deriveGuestModel(FULL, { mode }), RESET_STATE, value);
      if (!present) {
        assert.ok(isRefusal(v) && v.fault === 'GP');
        assert.match(v.reason, new RegExp(`EFER\\.${row.name} \\(bit ${row.bit}\\) is reserved`));
        return;
      }
      assert.ok(v.ok, isRefusal(v) ? v.reason : '');
      // LMA is read-only: the written LMA is discarded.
      assert.equal(v.effects.value, row.name === 'LMA' ? 0n : value);
    });
    if (!row.requires) continue;
    const accepted = mode === 'kvmExact' && row.kvm === 'ungated';
    test(`EFER.${row.name} (bit ${row.bit}) without ${requiredFeatures(row.requires).join('/')}: ${accepted ? 'accepted (KVM does not check)' : 'refused'} [${mode}]`, () => {
      const m = deriveGuestModel(withFeatures(FULL, row.requires!, false), { mode });
      const v = checkEferWrite(m, RESET_STATE, value);
      if (accepted) return assert.ok(v.ok);
      assert.ok(isRefusal(v));
      assert.equal(v.fault, 'GP');
      for (const f of requiredFeatures(row.requires)) assert.ok(v.reason.includes(featureText(f)), v.reason);
      // userspace (host-initiated) skips the CPUID check, except for bits KVM never enables
      const h = checkEferWrite(m, RESET_STATE, value, { hostInitiated: true });
      assert.equal(h.ok, row.kvm !== 'never');
    });
  }
}

// ---------------------------------------------------------------- XCR0
/** The smallest legal XCR0 that contains `bit`. */
function xcr0With(bit: number): bigint {
  const m = 1n << BigInt(bit);
  let v = Xcr0.X87 | m;
  if (m & (Xcr0.AVX | XCR0_AVX512)) v |= Xcr0.SSE | Xcr0.AVX;
  if (m & XCR0_AVX512) v |= XCR0_AVX512;
  if (m & XCR0_MPX) v |= XCR0_MPX;
  if (m & XCR0_AMX) v |= XCR0_AMX;
  return v;
}
const XSTATE: ControlState = { ...RESET_STATE, cr4: Cr4.OSXSAVE };

for (const mode of MODES) {
  for (const row of XCR0_BITS) {
    const ok = mode === 'architectural' || row.kvm;
    test(`XCR0.${row.name} (bit ${row.bit}) enumerated in leaf 0xD: ${ok ? 'accepted' : 'refused (not in KVM_SUPPORTED_XCR0)'} [${mode}]`, () => {
      const v = checkXsetbv(deriveGuestModel(FULL, { mode }), XSTATE, {
        cpl: 0,
        ecx: 0,
        value: xcr0With(row.bit),
      });
      if (ok) assert.ok(v.ok, isRefusal(v) ? v.reason : '');
      else assert.ok(isRefusal(v) && v.rule === 'xcr0.unsupported' && /KVM_SUPPORTED_XCR0/.test(v.reason));
    });
    test(`XCR0.${row.name} (bit ${row.bit}) not enumerated: ${row.bit === 0 ? 'accepted (x87 always)' : 'refused naming the leaf 0xD bit'} [${mode}]`, () => {
      const t = withReg(FULL, 0xd, 0, 'eax', FULL.reg(0xd, 0, 'eax') & ~(1 << row.bit));
      const v = checkXsetbv(deriveGuestModel(t, { mode }), XSTATE, {
        cpl: 0,
        ecx: 0,
        value: xcr0With(row.bit),
      });
      if (row.bit === 0) return assert.ok(v.ok);
      assert.ok(isRefusal(v));
      assert.equal(v.fault, 'GP');
      assert.equal(v.rule, 'xcr0.unsupported');
      assert.ok(v.reason.includes(`${xcr0EnumText(row.bit)} is 0`), v.reason);
    });
  }
}

// ---------------------------------------------------------------- XSS
for (const mode of MODES) {
  for (const row of XSS_BITS) {
    const value = 1n << BigInt(row.bit);
    const ok = mode === 'architectural' || row.kvm;
    test(`IA32_XSS.${row.name} (bit ${row.bit}) enumerated with XSAVES: ${ok ? 'accepted' : 'refused (KVM never offers it)'} [${mode}]`, () => {
      const v = checkXssWrite(deriveGuestModel(FULL, { mode }), RESET_STATE, value);
      if (ok) {
        assert.ok(v.ok, isRefusal(v) ? v.reason : '');
        assert.equal(v.effects.cpuidDirty, true);
      } else assert.ok(isRefusal(v) && v.fault === 'GP' && /KVM_SUPPORTED_XSS/.test(v.reason));
    });
    test(`IA32_XSS.${row.name} (bit ${row.bit}) not enumerated in 0xD.1: refused naming the bit [${mode}]`, () => {
      const t = withReg(FULL, 0xd, 1, 'ecx', FULL.reg(0xd, 1, 'ecx') & ~(1 << row.bit));
      const v = checkXssWrite(deriveGuestModel(t, { mode }), RESET_STATE, value);
      assert.ok(isRefusal(v) && v.fault === 'GP');
      assert.ok(v.reason.includes(`${xssEnumText(row.bit)} is 0`), v.reason);
    });
    test(`IA32_XSS.${row.name} (bit ${row.bit}) without XSAVES: refused naming CPUID.(EAX=0xD,ECX=1):EAX[3] [${mode}]`, () => {
      const m = deriveGuestModel(withFeatures(FULL, 'xsaves', false), { mode });
      const v = checkXssWrite(m, RESET_STATE, value);
      assert.ok(isRefusal(v) && v.fault === 'GP' && v.rule === 'xss.no-xsaves');
      assert.ok(v.reason.includes(featureText('xsaves')), v.reason);
      // userspace may still write 0
      assert.ok(checkXssWrite(m, RESET_STATE, 0n, { hostInitiated: true }).ok);
    });
  }
}

test('KVM drops the CET XSS bits when the guest has neither SHSTK nor IBT', () => {
  const m = deriveGuestModel(withFeatures(FULL, ['shstk', 'ibt'], false));
  const v = checkXssWrite(m, RESET_STATE, 1n << 11n);
  assert.ok(isRefusal(v));
  assert.ok(v.reason.includes(featureText('shstk')) && v.reason.includes(featureText('ibt')), v.reason);
  assert.ok(
    checkXssWrite(
      deriveGuestModel(withFeatures(FULL, ['shstk', 'ibt'], false), { mode: 'architectural' }),
      RESET_STATE,
      1n << 11n,
    ).ok,
  );
});
