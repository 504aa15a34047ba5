// Runs the instruction-corpus guest (layout.ts) on one Backend and collects the per-case records.
// A case the backend cannot execute (KVM_EXIT_INTERNAL_ERROR, e.g. an emulation failure of KVM's
// instruction emulator under kvm_pvm; a triple fault; an unexpected exit; a case that never finishes)
// is recorded as that case's outcome and the vCPU is restarted at the next case (Linux
// Documentation/virt/kvm/api.rst KVM_EXIT_INTERNAL_ERROR, KVM_SET_REGS).

import type { Backend, Regs, Sregs, Vcpu, VcpuExit } from '../../src/vcpu/backend.ts';
import type { CpuidEntry } from '../../src/arch/x86/cpuid/table.ts';
import { enterMode } from '../../src/vcpu/kvm/testing/guest-setup.ts';
import { hex } from './encode.ts';
import {
  CODE_ADDR,
  CUR_ADDR,
  IDT_ADDR,
  MEM_BYTES,
  OUT_BASE,
  OUT_SIZE,
  resumeAddr,
  SCRATCH_BASE,
  SCRATCH_SIZE,
  type GuestImage,
} from './layout.ts';

/** CR4.FSGSBASE (bit 16): RDFSBASE and friends are in the corpus */
const CR4_FSGSBASE = 1n << 16n;

export interface BackendRun {
  readonly backend: string;
  /** output records, OUT_SIZE bytes per case */
  readonly out: Uint8Array;
  /** scratch blocks after the run, SCRATCH_SIZE bytes per case */
  readonly scratch: Uint8Array;
  /** cases the backend could not execute, with why (e.g. "internal_error 1 insn f3 0f b8 c3") */
  readonly failed: ReadonlyMap<number, string>;
  readonly exits: number;
}

export interface RunOptions {
  /** give up on a case after this long without progress (default 3000 ms) */
  readonly stuckMs?: number;
  /** 'protected32' runs a legacy-mode image (legacy.ts): flat 32-bit protected mode, no paging */
  readonly mode?: 'long64' | 'protected32';
  /** observe every exit with the running case's index (diagnostics) */
  readonly onExit?: (exit: VcpuExit, cur: number) => void;
}

function describe(e: VcpuExit): string {
  if (e.reason === 'internal_error') {
    const insn = e.insnBytes && e.insnBytes.length ? ` insn ${hex(e.insnBytes.slice(0, 8))}` : '';
    return `internal_error ${e.suberror}${insn}${e.message ? ` (${e.message})` : ''}`;
  }
  if (e.reason === 'shutdown') return `shutdown${e.why ? ` (${e.why})` : ''}`;
  if (e.reason === 'io') return `io ${e.direction} port 0x${e.port.toString(16)}`;
  if (e.reason === 'mmio') return `mmio 0x${e.physAddr.toString(16)}`;
  return e.reason;
}

function setRip(vcpu: Vcpu, rip: number, sregs: Sregs): void {
  vcpu.setSregs(sregs);
  const r: Regs = vcpu.getRegs();
  vcpu.setRegs({ ...r, rip: BigInt(rip), rsp: BigInt(SCRATCH_BASE), rflags: 2n });
}

/** Run the whole image on `backend` with guest CPUID `cpuid`. */
export function runImage(backend: Backend, image: GuestImage, cpuid: readonly CpuidEntry[], opts: RunOptions = {}): BackendRun {
  const vm = backend.createVm();
  try {
    const buf = vm.allocateMemory(MEM_BYTES);
    const mem = new Uint8Array(buf);
    mem.set(image.memory);
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: buf });
    const dv = new DataView(buf);
    const vcpu = vm.createVcpu(0);
    vcpu.setCpuid(cpuid);
    const long = (opts.mode ?? 'long64') === 'long64';
    const s0 = enterMode(vcpu, buf, long ? 'long64' : 'protected32', CODE_ADDR, SCRATCH_BASE);
    const sregs: Sregs = long
      ? { ...s0, idt: { base: BigInt(IDT_ADDR), limit: 256 * 16 - 1 }, cr4: s0.cr4 | CR4_FSGSBASE }
      : { ...s0, idt: { base: BigInt(IDT_ADDR), limit: 256 * 8 - 1 } };
    vcpu.setSregs(sregs);
    setRip(vcpu, CODE_ADDR, sregs);
    const failed = new Map<number, string>();
    const stuckMs = opts.stuckMs ?? 3000;
    let exits = 0;
    let lastCur = -1;
    let since = Date.now();
    for (;;) {
      const e = vcpu.run();
      exits++;
      const cur = dv.getUint32(CUR_ADDR, true);
      opts.onExit?.(e, cur);
      if (e.reason === 'hlt') break;
      if (e.reason === 'intr') {
        if (cur !== lastCur) {
          lastCur = cur;
          since = Date.now();
        } else if (Date.now() - since > stuckMs) {
          failed.set(cur, `no progress for ${stuckMs} ms`);
          setRip(vcpu, resumeAddr(image.memory, cur), sregs);
          since = Date.now();
        }
        continue;
      }
      // anything else: this case cannot run here; record it and go on with the next one
      if (!failed.has(cur)) failed.set(cur, describe(e));
      if (cur + 1 > image.count) break;
      setRip(vcpu, resumeAddr(image.memory, cur), sregs);
      lastCur = -1;
    }
    return {
      backend: backend.name,
      out: mem.slice(OUT_BASE, OUT_BASE + image.count * OUT_SIZE),
      scratch: mem.slice(SCRATCH_BASE, SCRATCH_BASE + image.count * SCRATCH_SIZE),
      failed,
      exits,
    };
  } finally {
    vm.destroy();
  }
}
