// The interpreter backend: Backend/Vm/Vcpu (src/vcpu/backend.ts, shaped after the KVM ioctls) over the
// TypeScript CPU. The instruction loop here is the one place guest faults are caught and delivered
// (DESIGN.md §3.6): benign/contributory/page-fault classes → #DF → triple fault = shutdown exit
// (SDM Vol. 3A §6.15 "Interrupt 8—Double Fault Exception", Table 6-5).

import { CpuFault, isContributory } from '../../arch/x86/exceptions.ts';
import { CpuidTable, type CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import {
  BackendError, type Backend, type Fpu, type MemoryRegion, type MsrEntry, type MsrRange, type Regs, type Segment,
  type Sregs, type TscClock, type Vcpu, type VcpuExit, type Vm, type Xcr,
} from '../backend.ts';
import { badMsrRanges, MSR_EXIT_SIGNAL, pendingMsrExit, setUserspaceMsrRanges } from './msr-exit.ts';
import { setTscClock } from './tsc.ts';
import { checkSregs, checkMsrRead, checkMsrWrite, checkEferWrite, checkXsetbv, type ContractMode } from '../../contract/index.ts';
import { Mmu } from '../../mmu/index.ts';
import { Cpu, EXIT_SIGNAL } from './cpu.ts';
import { execute } from './exec.ts';
import { Tier1, tier1Of, ENDS_BLOCK } from './compile.ts';
import { deliver, KIND_FAULT, KIND_EXT, KIND_NMI } from './system.ts';
import { updateMode } from './segments.ts';
import { makeEnv, makeHooks, controlState, msrValue, setMsrValue, APIC_BASE_RESET, type VcpuEnv } from './control.ts';
import { GATE_FEATURES } from './spec/features.ts';
import { FEATURE_NAMES } from './decoder.generated.ts';
import { A_UNUSABLE, A_DPL_SHIFT, CS, IF, TF, RIP_LO, RIP_HI, MSR_APIC_BASE, MSR_EFER } from './state.ts';

/**
 * Instructions KVM does not gate on the guest CPUID (KVM-exact mode only): SYSCALL/SYSRET run natively
 * under VMX/SVM and KVM's emulator (em_syscall/em_sysret) checks EFER.SCE and the mode, not
 * 0x80000001:EDX[11]; EFER.SCE itself is ungated too (contract MODE_DIFFERENCES, spec §3.1).
 */
const KVM_UNGATED: ReadonlySet<string> = new Set(['syscall']);

/** MSR_K7_HWCR (AMD APM Vol. 2 Appendix A, C001_0015H) */
const MSR_K7_HWCR = 0xc0010015;

export interface InterpOptions {
  /** instructions per run() before an 'intr' exit (default 1e6) */
  budget?: number;
  /** which contract the vCPU enforces: KVM's ('kvmExact', default) or the manuals' ('architectural') */
  mode?: ContractMode;
}

/** TSVMM_TRACE_FAULTS=1: print every guest fault (vector, error code, reason, RIP) to stderr */
const TRACE_FAULTS = !!process.env.TSVMM_TRACE_FAULTS;

const REG_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
const SEG_KEYS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldt', 'tr'] as const;

const lo32 = (v: bigint): number => Number(v & 0xffffffffn) | 0;
const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn) | 0;
const u64 = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

/** A default guest CPUID: what the interpreter implements (used until setCpuid). */
function defaultCpuid(): CpuidEntry[] {
  const bits = (names: string[], leaf: number, reg: 'eax' | 'ebx' | 'ecx' | 'edx', sub?: number): number =>
    names.reduce((m, n) => {
      const l = GATE_FEATURES[n]!;
      return l.leaf === leaf && l.reg === reg && (l.subleaf ?? 0) === (sub ?? 0) ? m | (1 << l.bit) : m;
    }, 0) >>> 0;
  // offered: what the interpreter executes: MMX, SSE..SSE4.2 (integer and floating point; x87
  // arithmetic is not executed yet and is reported as an internal_error exit, never guessed).
  // Not offered: MWAIT, XSAVE(OPT/C/S), PKU, RDRAND/RDSEED.
  const all = Object.keys(GATE_FEATURES).filter((n) => !['mwait', 'xsave', 'xsaveopt', 'xsavec', 'xsaves', 'pku', 'rdrand', 'rdseed'].includes(n));
  const e = (fn: number, index: number, eax: number, ebx: number, ecx: number, edx: number, flags = 0): CpuidEntry =>
    ({ function: fn, index, flags, eax, ebx, ecx, edx });
  return [
    e(0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69), // GenuineIntel
    // 1:ECX + CX16; 1:EDX + FPU PSE MSR PAE MCE (0xe9), APIC (9), PGE (13), PAT (16)
    e(1, 0, 0x000806f0, 0x00000800, bits(all, 1, 'ecx') | (1 << 13), bits(all, 1, 'edx') | (1 << 9) | (1 << 13) | (1 << 16) | 0xe9),
    // 7:EBX + TSC_ADJUST (1): IA32_TSC_ADJUST is implemented (tsc.ts)
    e(7, 0, 0, bits(all, 7, 'ebx', 0) | (1 << 1), bits(all, 7, 'ecx', 0), 0, 1),
    e(0x80000000, 0, 0x80000008, 0, 0, 0),
    e(0x80000001, 0, 0, 0, bits(all, 0x80000001, 'ecx'), bits(all, 0x80000001, 'edx') | (1 << 20) | (1 << 26)),
    e(0x80000008, 0, 0x3028, 0, 0, 0),
  ];
}

class InterpVcpu implements Vcpu {
  readonly cpu = new Cpu();
  private env: VcpuEnv;
  private hasRun = false;
  private irq = -1;
  private nmi = false;
  private irqWindow = false;
  private last: VcpuExit | undefined;
  /** the port-I/O and MMIO exits, reused (backend.ts: an exit is valid until the next run(), as with
   *  kvm_run's shared page): data views of 1, 2 and 4 bytes, and 8 for MMIO */
  private readonly ioExit: Extract<VcpuExit, { reason: 'io' }> = { reason: 'io', direction: 'out', port: 0, size: 1, count: 1, data: new Uint8Array(1) };
  private readonly ioData = [new Uint8Array(0), new Uint8Array(1), new Uint8Array(2), new Uint8Array(0), new Uint8Array(4)];
  private readonly mmioExit: Extract<VcpuExit, { reason: 'mmio' }> = { reason: 'mmio', physAddr: 0n, isWrite: false, len: 0, data: new Uint8Array(8) };
  private mmioAddr = -1;
  /** the last exit was an IN that already retired: its data goes to RAX on the next run() */
  private inComplete = false;
  /** the last exit was x86_rdmsr/x86_wrmsr: where the instruction resumes once completed */
  private msrNextLo = 0;
  private msrNextHi = 0;
  private readonly budget: number;
  private readonly mode: ContractMode;

  constructor(readonly id: number, vm: InterpVm, opts: InterpOptions) {
    this.budget = opts.budget ?? 1_000_000;
    this.mode = opts.mode ?? 'kvmExact';
    const c = this.cpu;
    vm.attach(c);
    c.mmu = new Mmu(c.mem, {});
    this.env = makeEnv(new CpuidTable(defaultCpuid()), this.mode);
    c.sys = makeHooks(this.env);
    this.applyCpuid();
    c.msrs.set(MSR_APIC_BASE, APIC_BASE_RESET | (id === 0 ? 0x100n : 0n));
    // MSR_K7_HWCR resets with TscFreqSel (bit 24) set, as kvm_vcpu_reset leaves it: the TSC counts at
    // the P0 frequency (Linux's bsp_init_amd warns "TSC doesn't count with P0 frequency" otherwise)
    c.msrs.set(MSR_K7_HWCR, 1n << 24n);
    this.reset();
  }

  private reset(): void {
    const c = this.cpu;
    // power-on state (SDM Vol. 3A Table 10-1)
    for (let s = 0; s < 8; s++) {
      c.segSel[s] = 0; c.segBase[s] = 0; c.segBaseHi[s] = 0; c.segLimit[s] = 0xffff; c.segAttr[s] = 0x93;
    }
    c.segSel[CS] = 0xf000; c.segBase[CS] = 0xffff0000 | 0; c.segAttr[CS] = 0x9b;
    c.segAttr[6] = 0x82; c.segAttr[7] = 0x8b;
    c.r.fill(0);
    c.r[RIP_LO] = 0xfff0;
    c.r[4] = 0x000806f0;
    c.fl = 2; c.lfOp = 0;
    // x87/SSE state as KVM's fx_init leaves it: FCW 0x037F, all tags empty, MXCSR 0x1F80 (all SIMD
    // exceptions masked, round to nearest)
    c.fx.fill(0);
    c.fx[0] = 0x7f; c.fx[1] = 0x03;
    c.fx32[6] = 0x1f80;
    updateMode(c);
    c.invalidateFetch(); // state set from outside: nothing mapped before is trusted
  }

  private applyCpuid(): void {
    const c = this.cpu;
    const t = this.env.table;
    for (let i = 1; i < FEATURE_NAMES.length; i++) {
      const name = FEATURE_NAMES[i]!;
      const loc = GATE_FEATURES[name];
      c.feat[i] = (loc && t.hasBit(loc)) || (this.mode === 'kvmExact' && KVM_UNGATED.has(name)) ? 1 : 0;
    }
    c.extraFeat = new Set(t.hasBit({ leaf: 1, reg: 'ecx', bit: 13 }) ? ['cx16'] : []);
    c.vendorAmd = this.env.model.amdLike;
    const m = c.mmu as Mmu;
    m.setState({ maxPhyAddr: this.env.model.maxPhysAddr, vendorAmd: this.env.model.amdLike, gbpages: t.hasBit({ leaf: 0x80000001, reg: 'edx', bit: 26 }) });
  }

  setCpuid(entries: readonly CpuidEntry[]): void {
    const t = new CpuidTable(entries);
    if (this.hasRun) {
      const same = JSON.stringify(t.entries()) === JSON.stringify(this.env.table.entries());
      if (!same) throw new BackendError('EINVAL', 'KVM_SET_CPUID2 after the first run must not change the table');
      return;
    }
    this.env = makeEnv(t, this.mode);
    this.cpu.sys = makeHooks(this.env);
    this.applyCpuid();
    this.cpu.flushDecoded();
  }

  getCpuid(): CpuidEntry[] {
    return this.env.table.entries();
  }

  getRegs(): Regs {
    const r = this.cpu.r;
    const o: Record<string, bigint> = {};
    REG_NAMES.forEach((n, i) => (o[n] = u64(r[2 * i]!, r[2 * i + 1]!)));
    o.rip = u64(r[RIP_LO]!, r[RIP_HI]!);
    o.rflags = BigInt(this.cpu.getFlags() >>> 0);
    return o as unknown as Regs;
  }

  setRegs(regs: Regs): void {
    const c = this.cpu;
    REG_NAMES.forEach((n, i) => {
      c.r[2 * i] = lo32(regs[n]); c.r[2 * i + 1] = hi32(regs[n]);
    });
    c.r[RIP_LO] = lo32(regs.rip); c.r[RIP_HI] = hi32(regs.rip);
    c.lfOp = 0;
    c.fl = (lo32(regs.rflags) | 2) & 0x3f7fd7;
    updateMode(c);
    c.invalidateFetch(); // state set from outside: nothing mapped before is trusted
  }

  getSregs(): Sregs {
    const c = this.cpu;
    const seg = (s: number): Segment => {
      const a = c.segAttr[s]!;
      return {
        base: u64(c.segBase[s]!, c.segBaseHi[s]!), limit: c.segLimit[s]! >>> 0, selector: c.segSel[s]!,
        type: a & 0xf, present: (a & 0x80) !== 0, dpl: (a >> A_DPL_SHIFT) & 3, db: (a & 0x4000) !== 0,
        s: (a & 0x10) !== 0, l: (a & 0x2000) !== 0, g: (a & 0x8000) !== 0, avl: (a & 0x1000) !== 0,
        unusable: (a & A_UNUSABLE) !== 0,
      };
    };
    const o: Record<string, unknown> = {};
    SEG_KEYS.forEach((k, i) => (o[k] = seg(i)));
    return {
      ...(o as Pick<Sregs, 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs' | 'tr' | 'ldt'>),
      gdt: { base: u64(c.gdtBase, c.gdtBaseHi), limit: c.gdtLimit & 0xffff },
      idt: { base: u64(c.idtBase, c.idtBaseHi), limit: c.idtLimit & 0xffff },
      cr0: BigInt(c.cr0 >>> 0), cr2: u64(c.cr2Lo, c.cr2Hi), cr3: u64(c.cr3Lo, c.cr3Hi), cr4: BigInt(c.cr4 >>> 0),
      cr8: BigInt(c.cr8), efer: BigInt(c.efer >>> 0), apicBase: msrValue(c, MSR_APIC_BASE),
      pendingInterrupt: this.irq,
    };
  }

  setSregs(s: Sregs): void {
    const v = checkSregs(this.env.model, s, { currentApicBase: msrValue(this.cpu, MSR_APIC_BASE) });
    if (!v.ok) throw new BackendError('EINVAL', `KVM_SET_SREGS refused: ${v.reason}`, v.reason);
    const c = this.cpu;
    SEG_KEYS.forEach((k, i) => {
      const g = s[k];
      c.segSel[i] = g.selector & 0xffff;
      c.segBase[i] = lo32(g.base); c.segBaseHi[i] = hi32(g.base);
      c.segLimit[i] = g.limit | 0;
      c.segAttr[i] = (g.type & 0xf) | (g.s ? 0x10 : 0) | ((g.dpl & 3) << A_DPL_SHIFT) | (g.present ? 0x80 : 0) |
        (g.avl ? 0x1000 : 0) | (g.l ? 0x2000 : 0) | (g.db ? 0x4000 : 0) | (g.g ? 0x8000 : 0) | (g.unusable ? A_UNUSABLE : 0);
    });
    c.gdtBase = lo32(s.gdt.base); c.gdtBaseHi = hi32(s.gdt.base); c.gdtLimit = s.gdt.limit & 0xffff;
    c.idtBase = lo32(s.idt.base); c.idtBaseHi = hi32(s.idt.base); c.idtLimit = s.idt.limit & 0xffff;
    c.cr0 = lo32(s.cr0); c.cr2Lo = lo32(s.cr2); c.cr2Hi = hi32(s.cr2);
    c.cr3Lo = lo32(s.cr3); c.cr3Hi = hi32(s.cr3) & 0x7fffffff; c.cr4 = lo32(s.cr4); c.cr8 = Number(s.cr8 & 0xfn);
    c.efer = lo32(s.efer);
    c.msrs.set(MSR_APIC_BASE, s.apicBase);
    if (s.pendingInterrupt >= 0) this.irq = s.pendingInterrupt;
    updateMode(c);
    c.invalidateFetch(); // state set from outside: nothing mapped before is trusted
    (c.mmu as Mmu).setState({ cr0: c.cr0, cr3Lo: c.cr3Lo, cr3Hi: c.cr3Hi, cr4: c.cr4, efer: c.efer, cpl: c.cpl, pkru: c.pkru });
  }

  getMsrs(indices: readonly number[]): MsrEntry[] {
    const out: MsrEntry[] = [];
    for (const i of indices) {
      if (!checkMsrRead(this.env.model, i >>> 0, { hostInitiated: true }).ok) break;
      out.push({ index: i, data: msrValue(this.cpu, i >>> 0) });
    }
    return out;
  }

  setMsrs(entries: readonly MsrEntry[]): number {
    let n = 0;
    for (const e of entries) {
      const st = controlState(this.cpu);
      const i = e.index >>> 0;
      const v = i === MSR_EFER
        ? checkEferWrite(this.env.model, st, e.data, { hostInitiated: true })
        : checkMsrWrite(this.env.model, st, i, e.data, { hostInitiated: true, current: msrValue(this.cpu, i), vcpuHasRun: this.hasRun });
      if (!v.ok) break;
      setMsrValue(this.cpu, i, v.effects.value);
      n++;
    }
    return n;
  }

  getXcrs(): Xcr[] {
    return [{ xcr: 0, value: u64(this.cpu.xcr0Lo, this.cpu.xcr0Hi) }];
  }

  setXcrs(xcrs: readonly Xcr[]): void {
    for (const x of xcrs) {
      const st = { ...controlState(this.cpu), cr4: controlState(this.cpu).cr4 | (1n << 18n) };
      const v = checkXsetbv(this.env.model, st, { cpl: 0, ecx: x.xcr, value: x.value });
      if (!v.ok) throw new BackendError('EINVAL', `KVM_SET_XCRS refused: ${v.reason}`, v.reason);
      this.cpu.xcr0Lo = lo32(v.effects.value); this.cpu.xcr0Hi = hi32(v.effects.value);
    }
  }

  getFpu(): Fpu {
    const fx = this.cpu.fx;
    const dv = new DataView(fx.buffer);
    const fpr = new Uint8Array(128);
    fpr.set(fx.subarray(32, 160));
    return {
      fpr, fcw: dv.getUint16(0, true), fsw: dv.getUint16(2, true), ftwx: fx[4]!, lastOpcode: dv.getUint16(6, true),
      lastIp: dv.getBigUint64(8, true), lastDp: dv.getBigUint64(16, true), xmm: fx.slice(160, 416), mxcsr: dv.getUint32(24, true),
    };
  }

  setFpu(f: Fpu): void {
    if (f.fpr.length !== 128 || f.xmm.length !== 256) throw new BackendError('EINVAL', 'KVM_SET_FPU: fpr must be 128 bytes and xmm 256 bytes');
    const fx = this.cpu.fx;
    const dv = new DataView(fx.buffer);
    dv.setUint16(0, f.fcw, true); dv.setUint16(2, f.fsw, true); fx[4] = f.ftwx; dv.setUint16(6, f.lastOpcode, true);
    dv.setBigUint64(8, f.lastIp, true); dv.setBigUint64(16, f.lastDp, true); dv.setUint32(24, f.mxcsr, true);
    fx.set(f.fpr, 32); fx.set(f.xmm, 160);
  }

  injectInterrupt(vector: number): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) throw new BackendError('EINVAL', `KVM_INTERRUPT: vector ${vector} out of range`);
    if (this.irq >= 0) throw new BackendError('EEXIST', 'KVM_INTERRUPT: an interrupt is already queued');
    this.irq = vector;
  }

  injectNmi(): void {
    this.nmi = true;
  }

  requestInterruptWindow(on: boolean): void {
    this.irqWindow = on;
  }

  readyForInterruptInjection(): boolean {
    return this.irq < 0 && (this.cpu.fl & IF) !== 0 && this.cpu.shadow === 0;
  }

  interruptFlag(): boolean {
    return (this.cpu.fl & IF) !== 0;
  }

  /** KVM_RUN: execute until an exit. */
  run(): VcpuExit {
    const c = this.cpu;
    this.hasRun = true;
    // complete the previous exit (IN data, MMIO read data), like kvm_run's shared page
    const last = this.last;
    if (last?.reason === 'io' && last.direction === 'in' && this.inComplete) {
      // IN retired at the exit: write AL/AX/EAX now (upper RAX bits: as MOV to the sub-register)
      const d = last.data;
      const v = last.size === 1 ? d[0]! : last.size === 2 ? d[0]! | (d[1]! << 8) : d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24);
      c.setReg(0, last.size, v, 0);
    } else if (last?.reason === 'io' && last.direction === 'in') {
      const d = last.data;
      c.pendInValid = true; c.pendInPort = last.port; c.pendInSize = last.size;
      c.pendInValue = last.size === 1 ? d[0]! : last.size === 2 ? d[0]! | (d[1]! << 8) : d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24);
    } else if (last?.reason === 'mmio' && !last.isWrite) {
      c.pendMmioValid = true; c.pendMmioAddr = Number(last.physAddr); c.pendMmioLen = last.len;
      c.pendMmioData.set(last.data.subarray(0, 8));
    }
    this.last = undefined;
    this.inComplete = false;
    c.flushDecoded();
    if (last?.reason === 'x86_rdmsr' || last?.reason === 'x86_wrmsr') {
      const e = this.completeMsrExit(last);
      if (e) {
        this.last = e;
        return e;
      }
    }
    const exit = this.loop();
    this.last = exit;
    return exit;
  }

  private loop(): VcpuExit {
    const c = this.cpu;
    const t1 = Tier1.enabled ? tier1Of(c) : undefined;
    let budget = this.budget;
    for (;;) {
      // event injection at an instruction boundary
      if (this.nmi && !c.nmiBlocked && c.shadow === 0) {
        this.nmi = false; c.halted = false;
        const e = this.deliverEvent(2, -1, KIND_NMI);
        if (e) return e;
      } else if (this.irq >= 0 && c.fl & IF && c.shadow === 0) {
        const v = this.irq;
        this.irq = -1; c.halted = false;
        const e = this.deliverEvent(v, -1, KIND_EXT);
        if (e) return e;
      }
      if (this.irqWindow && this.irq < 0 && c.fl & IF && c.shadow === 0) return { reason: 'irq_window_open' };
      if (c.halted) {
        c.halted = false;
        return { reason: 'hlt' };
      }
      if (budget <= 0) return { reason: 'intr' };
      const wantEvents = this.irq >= 0 || this.nmi || this.irqWindow;
      let n = budget > 65536 ? 65536 : budget;
      budget -= n;
      // Tier 1 (compile.ts): a compiled block runs only where the interpreter would not stop after
      // its first instruction (no TF trap, no interrupt shadow, no deliverable event)
      const blocksOk = !(wantEvents && c.fl & IF);
      let blockIc = -1;
      // blocks are looked up where one may start: after a branch or another block end
      let entry = true;
      // a fault or exit signal: thrown by the interpreter, or handed over by a compiled block
      let thrown: unknown = null;
      try {
        while (n-- > 0) {
          const sh = c.shadow;
          const tf = c.fl & TF;
          if (entry && (sh | tf) === 0 && blocksOk && t1 !== undefined) {
            blockIc = c.icount;
            const k = t1.run(n + 1);
            if (c.blockFault !== null) {
              thrown = c.blockFault;
              c.blockFault = null;
              break;
            }
            blockIc = -1;
            if (k > 0) {
              n -= k - 1;
              if (c.deferredExit !== 0 || c.halted) break;
              if (wantEvents && c.fl & IF && c.shadow === 0) break;
              if (!wantEvents && (this.irq >= 0 || this.nmi)) break;
              continue;
            }
          }
          c.decode();
          entry = ENDS_BLOCK[c.d.op] !== 0;
          execute(c);
          c.icount++;
          if (sh) c.shadow = 0;
          if (tf !== 0) {
            // single-step trap after the instruction (SDM Vol. 3A §18.3.1.4): DR6.BS, RIP = next
            c.dr[12] = c.dr[12]! | 0x4000;
            budget += n > 0 ? n : 0;
            n = 0;
            const e = this.deliverEvent(1, -1, KIND_FAULT);
            if (e) return e;
            break;
          }
          if (c.deferredExit !== 0 || c.halted) break;
          if (wantEvents && c.fl & IF && c.shadow === 0) break;
          if (!wantEvents && (this.irq >= 0 || this.nmi)) break;
        }
        if (thrown === null) budget += n > 0 ? n : 0;
      } catch (e) {
        thrown = e;
      }
      if (thrown !== null) {
        // a fault inside a compiled block: the instructions it retired before it count too
        if (blockIc >= 0) n -= c.icount - blockIc;
        budget += n > 0 ? n : 0;
        const x = this.onThrow(thrown);
        if (x) return x;
        continue;
      }
      if (c.deferredExit !== 0) return this.takeDeferred();
    }
  }

  /**
   * Finish the RDMSR/WRMSR the VMM answered (api.rst KVM_EXIT_X86_RDMSR/WRMSR): #GP(0) at the
   * instruction when it set `error`, else EDX:EAX = data (RDMSR) and RIP past it; then the
   * single-step trap if TF was set. Returns an exit when delivering a fault escalated to one.
   */
  private completeMsrExit(x: Extract<VcpuExit, { reason: 'x86_rdmsr' | 'x86_wrmsr' }>): VcpuExit | undefined {
    const c = this.cpu;
    if (x.error) return this.deliverEvent(13, 0, KIND_FAULT);
    if (x.reason === 'x86_rdmsr') {
      const d = BigInt.asUintN(64, BigInt(x.data));
      c.setReg(0, 4, Number(d & 0xffffffffn) | 0, 0);
      c.setReg(2, 4, Number(d >> 32n) | 0, 0);
    }
    c.r[RIP_LO] = this.msrNextLo; c.r[RIP_HI] = this.msrNextHi;
    c.icount++;
    c.shadow = 0;
    if (c.fl & TF) {
      c.dr[12] = c.dr[12]! | 0x4000;
      return this.deliverEvent(1, -1, KIND_FAULT);
    }
    return undefined;
  }

  private takeDeferred(): VcpuExit {
    const c = this.cpu;
    const k = c.deferredExit;
    c.deferredExit = 0;
    if (k === 3) {
      this.inComplete = true;
      return this.makeIoExit('in');
    }
    if (k === 1) return this.makeIoExit('out');
    return this.makeMmioExit(true);
  }

  /** the (reused) port-I/O exit for c.exitIoPort/exitIoSize; OUT data from c.exitData, IN data zeroed */
  private makeIoExit(direction: 'in' | 'out'): VcpuExit {
    const c = this.cpu;
    const x = this.ioExit, size = c.exitIoSize as 1 | 2 | 4;
    const data = this.ioData[size]!;
    if (direction === 'out') for (let i = 0; i < size; i++) data[i] = c.exitData[i]!;
    else data.fill(0);
    x.direction = direction; x.port = c.exitIoPort; x.size = size; x.count = 1; x.data = data;
    return x;
  }

  /** the (reused) MMIO exit for c.exitMmioAddr/exitMmioLen; write data from c.exitData, read data zeroed */
  private makeMmioExit(isWrite: boolean): VcpuExit {
    const c = this.cpu;
    const x = this.mmioExit;
    if (c.exitMmioAddr !== this.mmioAddr) { this.mmioAddr = c.exitMmioAddr; x.physAddr = BigInt(c.exitMmioAddr); }
    if (isWrite) x.data.set(c.exitData); else x.data.fill(0);
    x.isWrite = isWrite; x.len = c.exitMmioLen;
    return x;
  }

  private restart(): void {
    const c = this.cpu;
    c.r[RIP_LO] = c.startLo; c.r[RIP_HI] = c.startHi;
  }

  private onThrow(e: unknown): VcpuExit | undefined {
    const c = this.cpu;
    if (e === MSR_EXIT_SIGNAL) {
      // RDMSR/WRMSR of an index the VMM claimed: leave with RIP at the instruction (msr-exit.ts)
      this.restart();
      const p = pendingMsrExit(c);
      this.msrNextLo = p.nextLo; this.msrNextHi = p.nextHi;
      return p.exit;
    }
    if (e === EXIT_SIGNAL) {
      this.restart();
      c.deferredExit = 0;
      if (c.exitKind === 1) return this.makeIoExit('in');
      return this.makeMmioExit(false);
    }
    if (e instanceof CpuFault) {
      this.restart();
      c.deferredExit = 0;
      if (e.vector < 0) return this.internalError(e.reason);
      if (TRACE_FAULTS) console.error(`fault ${e.toString()} at ${u64(c.startLo, c.startHi).toString(16)}`);
      return this.deliverEvent(e.vector, e.errorCode, KIND_FAULT, e);
    }
    this.restart();
    return this.internalError(`interpreter error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  }

  private internalError(message: string): VcpuExit {
    const c = this.cpu;
    const bytes: number[] = [];
    try {
      for (let i = 0; i < 15; i++) bytes.push(c.fetch(i));
    } catch {
      /* fewer bytes readable */
    }
    return {
      reason: 'internal_error', suberror: 1, data: [u64(c.startLo, c.startHi)], insnBytes: Uint8Array.from(bytes),
      message,
    };
  }

  /** Deliver an event; escalate faults during delivery to #DF and triple fault (SDM Table 6-5). */
  private deliverEvent(vector: number, ec: number, kind: number, f?: CpuFault): VcpuExit | undefined {
    const c = this.cpu;
    if (f && vector === 14) { c.cr2Lo = f.cr2Lo; c.cr2Hi = f.cr2Hi; }
    let v = vector, code = ec, k = kind;
    for (let depth = 0; depth < 3; depth++) {
      try {
        deliver(c, v, code, k);
        return undefined;
      } catch (e2) {
        if (!(e2 instanceof CpuFault)) return this.onThrow(e2);
        if (e2.vector < 0) return this.internalError(e2.reason);
        if (v === 8) return { reason: 'shutdown', why: `triple fault: ${e2.toString()} while delivering #DF` };
        const first = v, second = e2.vector;
        const df = (isContributory(first) && isContributory(second)) || (first === 14 && (second === 14 || isContributory(second)));
        if (second === 14) { c.cr2Lo = e2.cr2Lo; c.cr2Hi = e2.cr2Hi; }
        if (df) { v = 8; code = 0; k = KIND_FAULT; }
        else { v = second; code = e2.errorCode; k = KIND_FAULT; }
      }
    }
    return { reason: 'shutdown', why: 'triple fault' };
  }

  destroy(): void {
    /* nothing to release */
  }
}

class InterpVm implements Vm {
  private readonly regions = new Map<number, MemoryRegion>();
  private readonly cpus: Cpu[] = [];
  private vcpuIds = new Set<number>();
  private msrRanges: readonly MsrRange[] = [];
  private tscClock: TscClock | undefined;

  constructor(private readonly opts: InterpOptions) {}

  /** KVM_CAP_X86_USER_SPACE_MSR + KVM_X86_SET_MSR_FILTER (backend.ts; msr-exit.ts). */
  setUserspaceMsrs(ranges: readonly MsrRange[]): boolean {
    const bad = badMsrRanges(ranges);
    if (bad) throw new BackendError('EINVAL', `KVM_X86_SET_MSR_FILTER: ${bad}`);
    this.msrRanges = ranges.map((r) => ({ base: r.base, count: r.count }));
    for (const c of this.cpus) setUserspaceMsrRanges(c, this.msrRanges);
    return true;
  }

  /** KVM_SET_TSC_KHZ on the VMM's clock (backend.ts; tsc.ts). */
  setTscClock(clock: TscClock): boolean {
    if (!clock || typeof clock.nowNs !== 'function')
      throw new BackendError('EINVAL', 'setTscClock needs { hz, nowNs() }');
    if (!Number.isSafeInteger(clock.hz) || clock.hz < 1_000_000 || clock.hz > 100_000_000_000)
      throw new BackendError('EINVAL', `TSC frequency must be a whole number of Hz from 1 MHz to 100 GHz (got ${clock.hz})`);
    this.tscClock = clock;
    for (const c of this.cpus) setTscClock(c, clock);
    return true;
  }

  allocateMemory(bytes: number): ArrayBuffer {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 2 ** 32) throw new BackendError('EINVAL', `allocateMemory: bad size ${bytes}`);
    return new ArrayBuffer(bytes);
  }

  setUserMemoryRegion(region: MemoryRegion): void {
    const off = region.offset ?? 0;
    const size = region.size ?? region.memory.byteLength - off;
    if (off < 0 || size < 0 || off + size > region.memory.byteLength) throw new BackendError('EINVAL', 'memory region outside its buffer');
    if (region.guestPhysAddr & 0xfffn || size & 0xfff) throw new BackendError('EINVAL', 'memory region not page aligned');
    this.regions.set(region.slot, region);
    for (const c of this.cpus) this.apply(c, region);
  }

  private apply(c: Cpu, r: MemoryRegion): void {
    const off = r.offset ?? 0;
    const size = r.size ?? r.memory.byteLength - off;
    c.mem.setSlot(r.slot, Number(r.guestPhysAddr), r.memory, off, size, r.readonly ?? false);
    c.invalidateFetch();
    c.flushDecoded();
  }

  attach(c: Cpu): void {
    this.cpus.push(c);
    for (const r of this.regions.values()) this.apply(c, r);
    if (this.msrRanges.length) setUserspaceMsrRanges(c, this.msrRanges);
    if (this.tscClock) setTscClock(c, this.tscClock);
  }

  createVcpu(id: number): Vcpu {
    if (this.vcpuIds.has(id)) throw new BackendError('EEXIST', `vCPU ${id} already exists`);
    this.vcpuIds.add(id);
    return new InterpVcpu(id, this, this.opts);
  }

  destroy(): void {
    this.cpus.length = 0;
  }
}

export function createInterpBackend(opts: InterpOptions = {}): Backend {
  return {
    name: 'interp',
    supportedCpuid: () => defaultCpuid(),
    emulatedCpuid: () => [],
    msrIndexList: () => [0x10, 0x1b, 0x174, 0x175, 0x176, 0x277, 0xc0000080, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000100, 0xc0000101, 0xc0000102, 0xc0000103],
    createVm: () => new InterpVm(opts),
  };
}

export { Cpu } from './cpu.ts';
