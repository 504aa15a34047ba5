// Test helper: run a tiny guest program on a Backend and collect its exits. The program is GNU as
// source linked at 0x1000; it reports through OUT to port 0xf4 (isa-debug-exit's port) and ends
// with HLT. For long mode an IDT at 0x3000 routes vectors 0..63 to stubs that OUT the vector number
// to port 0xf5 and halt (Intel SDM Vol. 3A §6.14.1, 64-bit IDT gate descriptors).

import type { Backend, Vcpu, VcpuExit, Vm } from '../../backend.ts';
import type { CpuidEntry } from '../../../arch/x86/cpuid/table.ts';
import { assemble } from './assemble.ts';
import { enterMode, type GuestMode } from './guest-setup.ts';

export const CODE_ADDR = 0x1000;
export const IDT_ADDR = 0x3000;
export const VECTOR_PORT = 0xf5;
const STUBS_ADDR = 0x1800;
const VECTORS = 64;

/** Exception stubs: vector n at STUBS_ADDR + 16n pushes n, the common tail OUTs it to 0xf5. */
const STUBS = `
.org ${STUBS_ADDR - CODE_ADDR}
vec = 0
.rept ${VECTORS}
.align 16
 push $vec
 jmp 9f
vec = vec + 1
.endr
9: pop %rax
 out %al, $${VECTOR_PORT}
 hlt
`;

/** One exit, flattened to plain comparable data. */
export type TraceItem =
  | { kind: 'out'; port: number; value: number }
  | { kind: 'in'; port: number }
  | { kind: 'vector'; vector: number }
  | { kind: 'exit'; exit: VcpuExit };

export interface GuestRun {
  readonly vm: Vm;
  readonly vcpu: Vcpu;
  readonly memory: ArrayBuffer;
  readonly trace: TraceItem[];
}

export interface GuestOptions {
  readonly mode: GuestMode;
  readonly cpuid?: readonly CpuidEntry[];
  /** CR4 bits to OR in after entering the mode */
  readonly cr4?: bigint;
  /** install the 64-bit IDT and exception stubs (long mode only) */
  readonly idt?: boolean;
  /** stop after this many exits */
  readonly maxExits?: number;
  readonly memoryBytes?: number;
}

/**
 * vcpu.run() until an exit other than 'intr' (the end of a run slice: a slow first entry on PVM can
 * take longer than one slice). Returns 'intr' itself only after `maxSlices` slices in a row.
 */
export function runToExit(vcpu: Vcpu, maxSlices = 500): VcpuExit {
  let e = vcpu.run();
  for (let i = 1; e.reason === 'intr' && i < maxSlices; i++) e = vcpu.run();
  return e;
}

/** Assemble and run `source`; the caller destroys `vm`. Throws when assembly fails. */
export function runGuest(backend: Backend, source: string, opts: GuestOptions): GuestRun {
  const withIdt = opts.idt ?? opts.mode === 'long64';
  const header = opts.mode === 'real' ? '.code16' : opts.mode === 'protected32' ? '.code32' : '.code64';
  const a = assemble(`${header}\n${source}\n${withIdt ? STUBS : ''}`, CODE_ADDR);
  if (!a.ok) throw new Error(a.reason);
  const vm = backend.createVm();
  const memory = vm.allocateMemory(opts.memoryBytes ?? 0x400000);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory });
  new Uint8Array(memory).set(a.code, CODE_ADDR);
  const vcpu = vm.createVcpu(0);
  vcpu.setCpuid(opts.cpuid ?? backend.supportedCpuid());
  enterMode(vcpu, memory, opts.mode, CODE_ADDR);
  if (withIdt || opts.cr4) {
    const s = vcpu.getSregs();
    if (withIdt) {
      const dv = new DataView(memory);
      for (let n = 0; n < VECTORS; n++) {
        const handler = STUBS_ADDR + 16 * n;
        const at = IDT_ADDR + 16 * n;
        dv.setUint16(at, handler & 0xffff, true);
        dv.setUint16(at + 2, 0x08, true); // code selector
        dv.setUint8(at + 5, 0x8e); // P, DPL 0, 64-bit interrupt gate
        dv.setUint16(at + 6, handler >>> 16, true);
      }
      s.idt = { base: BigInt(IDT_ADDR), limit: VECTORS * 16 - 1 };
    }
    s.cr4 |= opts.cr4 ?? 0n;
    vcpu.setSregs(s);
  }
  const trace: TraceItem[] = [];
  const max = opts.maxExits ?? 16;
  for (let i = 0; i < max; i++) {
    const e = runToExit(vcpu);
    if (e.reason === 'io' && e.direction === 'out') {
      const dv = new DataView(e.data.buffer, e.data.byteOffset, e.data.byteLength);
      const value =
        e.size === 1 ? dv.getUint8(0) : e.size === 2 ? dv.getUint16(0, true) : dv.getUint32(0, true);
      trace.push(
        e.port === VECTOR_PORT ? { kind: 'vector', vector: value } : { kind: 'out', port: e.port, value },
      );
      continue;
    }
    if (e.reason === 'io') {
      e.data.fill(0);
      trace.push({ kind: 'in', port: e.port });
      continue;
    }
    // Copy views that alias kvm_run before the next run() overwrites them.
    trace.push({ kind: 'exit', exit: e.reason === 'mmio' ? { ...e, data: e.data.slice() } : e });
    break;
  }
  return { vm, vcpu, memory, trace };
}

/**
 * The trace as one line: "out 0xf4=0x33; hlt", "vector 6; hlt", "shutdown",
 * "internal_error 1 insn 0f 01 ca b0 …" (instruction bytes in hex when KVM gave them).
 */
export function summarize(trace: readonly TraceItem[]): string {
  return trace
    .map((t) => {
      switch (t.kind) {
        case 'out':
          return `out 0x${t.port.toString(16)}=0x${t.value.toString(16)}`;
        case 'in':
          return `in 0x${t.port.toString(16)}`;
        case 'vector':
          return `vector ${t.vector}`;
        case 'exit': {
          const e = t.exit;
          if (e.reason !== 'internal_error') return e.reason;
          const insn = e.insnBytes
            ? ' insn ' + Array.from(e.insnBytes, (b) => b.toString(16).padStart(2, '0')).join(' ')
            : '';
          return `internal_error ${e.suberror}${insn}`;
        }
      }
    })
    .join('; ');
}
