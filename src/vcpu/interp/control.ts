// The interpreter's bridge to the architectural contract (src/contract, shared/spec/kvm-contract.md
// §1.3 MOV CR4, §2 CR0, §3.2 EFER, §4 XSETBV, §6 MSRs) and the CPUID instruction's answers (§5.6,
// §1.5 OS-reflected bits). Every MOV CR / WRMSR / RDMSR / XSETBV goes through exactly one call here.

import { CpuFault } from '../../arch/x86/exceptions.ts';
import { CpuidTable } from '../../arch/x86/cpuid/table.ts';
import {
  checkCr0Write, checkCr3Write, checkCr4Write, checkCr8Write, checkEferWrite, checkMsrRead, checkMsrWrite,
  checkXsetbv, deriveGuestModel, type ContractMode, type ControlState, type GuestModel, type Verdict,
} from '../../contract/index.ts';
import { Cpu } from './cpu.ts';
import { updateMode } from './segments.ts';
import type { SystemHooks } from './system.ts';
import type { Mmu } from '../../mmu/index.ts';
import { guestWriteTscMsr, readTscMsr, writeTsc, MSR_IA32_TSC_ADJUST } from './tsc.ts';
import {
  CS, FS, GS, A_L, CR0_PG, CR4_OSXSAVE, CR4_PKE, EFER_LMA, EFER_LME,
  MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, MSR_TSC, MSR_APIC_BASE, MSR_PAT, MSR_MISC_ENABLE,
  MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_FMASK, MSR_SYSENTER_CS, MSR_SYSENTER_ESP, MSR_SYSENTER_EIP,
  MSR_KERNEL_GS_BASE, MSR_TSC_AUX, msrHotSlot,
} from './state.ts';

export const APIC_BASE_RESET = 0xfee00000n | 0x800n; // EN, BSP is added for vCPU 0

export interface VcpuEnv {
  table: CpuidTable;
  model: GuestModel;
}

/** `mode`: 'kvmExact' (default) follows KVM's simplifications, 'architectural' the manuals (src/contract MODE_DIFFERENCES). */
export function makeEnv(table: CpuidTable, mode: ContractMode = 'kvmExact'): VcpuEnv {
  return { table, model: deriveGuestModel(table, { mode }) };
}

function big(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

export function controlState(c: Cpu): ControlState {
  return {
    cr0: BigInt(c.cr0 >>> 0),
    cr3: big(c.cr3Lo, c.cr3Hi),
    cr4: BigInt(c.cr4 >>> 0),
    efer: BigInt(c.efer >>> 0),
    xcr0: big(c.xcr0Lo, c.xcr0Hi),
    xss: c.msrs.get(0xda0) ?? 0n,
    csL: (c.segAttr[CS]! & A_L) !== 0,
    cpl: c.cpl,
  };
}

/** Raise the refusal as the guest-visible fault (reason kept for traces). */
function enforce(v: Verdict): bigint {
  if (v.ok) return v.effects.value;
  throw new CpuFault(v.fault === 'GP' ? 13 : 6, v.fault === 'GP' ? 0 : -1, 0, 0, `${v.rule}: ${v.reason}`);
}

function mmuOf(c: Cpu): Mmu | undefined {
  return c.mmu as Mmu | undefined;
}

/** CPUID instruction semantics (spec §5.6 kvm_cpuid + §1.5 runtime bits). */
export function cpuidAnswer(env: VcpuEnv, c: Cpu, leafIn: number, subIn: number, out: Int32Array): void {
  const t = env.table;
  let leaf = leafIn >>> 0;
  const sub = subIn >>> 0;
  let e = t.get(leaf, sub);
  if (!e) {
    const base = leaf >= 0x80000000 ? 0x80000000 : leaf >= 0x40000000 && leaf < 0x50000000 ? leaf & 0xffffff00 : leaf >= 0xc0000000 ? 0xc0000000 : 0;
    const max = t.get(base, 0)?.eax ?? -1;
    const outOfRange = max < 0 || leaf > max >>> 0;
    if (outOfRange && !env.model.amdLike) {
      // Intel-like: the max basic leaf's entry, keeping the requested index
      leaf = (t.get(0, 0)?.eax ?? 0) >>> 0;
      e = t.get(leaf, sub);
    }
  }
  const a = e?.eax ?? 0;
  let b = e?.ebx ?? 0, cx = e?.ecx ?? 0, d = e?.edx ?? 0;
  if (e && leaf === 1) {
    cx = (cx & ~(1 << 27)) | (c.cr4 & CR4_OSXSAVE ? 1 << 27 : 0);
    const apicEn = ((c.msrs.get(MSR_APIC_BASE) ?? APIC_BASE_RESET) & 0x800n) !== 0n;
    d = (d & ~(1 << 9)) | (apicEn ? 1 << 9 : 0);
  }
  if (e && leaf === 7 && sub === 0) cx = (cx & ~(1 << 4)) | (c.cr4 & CR4_PKE ? 1 << 4 : 0);
  if (e && leaf === 0xd && sub === 0) b = xsaveSize(t, c.xcr0Lo);
  out[0] = a; out[1] = b; out[2] = cx; out[3] = d;
}

/** standard-format XSAVE area size for the enabled components (SDM Vol. 1 §13.4) */
function xsaveSize(t: CpuidTable, xcr0: number): number {
  let size = 576;
  for (let i = 2; i < 32; i++) {
    if (!(xcr0 & (1 << i))) continue;
    const e = t.get(0xd, i);
    if (e) size = Math.max(size, (e.eax >>> 0) + (e.ebx >>> 0));
  }
  return size;
}

export function makeHooks(env: VcpuEnv): SystemHooks {
  return {
    cpuid: (c, leaf, sub, out) => cpuidAnswer(env, c, leaf, sub, out),
    writeCr(c, n, lo, hi) {
      const st = controlState(c);
      const m = mmuOf(c);
      switch (n) {
        case 0: {
          const v = Number(enforce(checkCr0Write(env.model, st, BigInt(lo >>> 0) | (BigInt(hi >>> 0) << 32n))) & 0xffffffffn) | 0;
          let efer = c.efer;
          if (v & CR0_PG && !(c.cr0 & CR0_PG) && efer & EFER_LME) efer |= EFER_LMA;
          if (!(v & CR0_PG) && c.cr0 & CR0_PG) efer &= ~EFER_LMA;
          if (m && !m.movCr0(v, efer)) throw new CpuFault(13, 0, 0, 0, 'PDPTE reserved bit on CR0 write');
          c.cr0 = v; c.efer = efer;
          break;
        }
        case 3: {
          const v = enforce(checkCr3Write(env.model, st, big(lo, hi)));
          const vlo = Number(v & 0xffffffffn) | 0, vhi = Number((v >> 32n) & 0xffffffffn) | 0;
          if (m && !m.movCr3(vlo, vhi)) throw new CpuFault(13, 0, 0, 0, 'PDPTE reserved bit on CR3 write');
          c.cr3Lo = vlo; c.cr3Hi = vhi & 0x7fffffff;
          break;
        }
        case 4: {
          const v = Number(enforce(checkCr4Write(env.model, st, big(lo, hi))) & 0xffffffffn) | 0;
          if (m && !m.movCr4(v)) throw new CpuFault(13, 0, 0, 0, 'PDPTE reserved bit on CR4 write');
          c.cr4 = v;
          break;
        }
        default: {
          const v = enforce(checkCr8Write(env.model, st, big(lo, hi)));
          c.cr8 = Number(v & 0xfn);
        }
      }
      c.invalidateFetch();
      updateMode(c);
    },
    readMsr(c, index) {
      enforce(checkMsrRead(env.model, index >>> 0));
      x2apicCheck(c, index >>> 0);
      return msrValue(c, index >>> 0);
    },
    writeMsr(c, index, value) {
      const i = index >>> 0;
      const st = controlState(c);
      if (i === MSR_EFER) {
        const v = enforce(checkEferWrite(env.model, st, value));
        c.efer = Number(v & 0xffffffffn) | 0;
        mmuOf(c)?.writeEfer(c.efer);
        updateMode(c);
        return;
      }
      x2apicCheck(c, i);
      const v = enforce(checkMsrWrite(env.model, st, i, value, { current: msrValue(c, i) }));
      // guest writes of IA32_TSC / IA32_TSC_ADJUST move each other (SDM Vol. 3B §18.17.3; tsc.ts)
      if (i === MSR_TSC || i === MSR_IA32_TSC_ADJUST) guestWriteTscMsr(c, i, v);
      else setMsrValue(c, i, v);
    },
    xsetbv(c, index, value) {
      const v = enforce(checkXsetbv(env.model, controlState(c), { cpl: c.cpl, ecx: index, value }));
      c.xcr0Lo = Number(v & 0xffffffffn) | 0;
      c.xcr0Hi = Number(v >> 32n) | 0;
    },
    unimplemented(c, what) {
      throw c.unimplementedFault(what);
    },
  };
}

/** x2APIC MSRs 0x800-0x8FF exist only in x2APIC mode (IA32_APIC_BASE.EXTD, bit 10; SDM Vol. 3A
 *  §11.12.1): in xAPIC mode RDMSR/WRMSR raise #GP (KVM kvm_x2apic_msr_read/write). */
function x2apicCheck(c: Cpu, i: number): void {
  if (i >= 0x800 && i <= 0x8ff && ((c.msrs.get(MSR_APIC_BASE) ?? APIC_BASE_RESET) & 0x400n) === 0n)
    throw new CpuFault(13, 0, 0, 0, `x2APIC MSR 0x${i.toString(16)} with IA32_APIC_BASE.EXTD=0`);
}

/** MSR values the CPU state holds directly; the rest live in c.msrs */
export function msrValue(c: Cpu, i: number): bigint {
  switch (i) {
    case MSR_EFER: return BigInt(c.efer >>> 0);
    case MSR_FS_BASE: return big(c.segBase[FS]!, c.segBaseHi[FS]!);
    case MSR_GS_BASE: return big(c.segBase[GS]!, c.segBaseHi[GS]!);
    case MSR_TSC: return readTscMsr(c);
    case MSR_APIC_BASE: return c.msrs.get(i) ?? APIC_BASE_RESET;
    case MSR_STAR: case MSR_LSTAR: case MSR_CSTAR: case MSR_FMASK: case MSR_SYSENTER_CS: case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP: case MSR_KERNEL_GS_BASE: case MSR_TSC_AUX: {
      const k = msrHotSlot(i);
      return big(c.msrHot[k]!, c.msrHot[k + 1]!);
    }
    case MSR_PAT: return c.msrs.get(i) ?? 0x0007040600070406n;
    case MSR_MISC_ENABLE: return c.msrs.get(i) ?? 0x1800n;
    default: return c.msrs.get(i) ?? 0n;
  }
}

export function setMsrValue(c: Cpu, i: number, v: bigint): void {
  switch (i) {
    case MSR_EFER:
      c.efer = Number(v & 0xffffffffn) | 0;
      (c.mmu as Mmu | undefined)?.writeEfer(c.efer);
      updateMode(c);
      return;
    case MSR_FS_BASE: case MSR_GS_BASE: {
      const s = i === MSR_FS_BASE ? FS : GS;
      c.segBase[s] = Number(v & 0xffffffffn) | 0; c.segBaseHi[s] = Number((v >> 32n) & 0xffffffffn) | 0;
      return;
    }
    case MSR_TSC: writeTsc(c, v); return;
    case MSR_STAR: case MSR_LSTAR: case MSR_CSTAR: case MSR_FMASK: case MSR_SYSENTER_CS: case MSR_SYSENTER_ESP:
    case MSR_SYSENTER_EIP: case MSR_KERNEL_GS_BASE: case MSR_TSC_AUX: {
      const k = msrHotSlot(i);
      c.msrHot[k] = Number(v & 0xffffffffn) | 0; c.msrHot[k + 1] = Number((v >> 32n) & 0xffffffffn) | 0;
      return;
    }
    default: c.msrs.set(i, v);
  }
}
