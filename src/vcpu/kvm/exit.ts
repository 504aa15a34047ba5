// Decoding kvm_run after KVM_RUN into the VcpuExit union (Linux Documentation/virt/kvm/api.rst §5,
// "The kvm_run structure"; exit reasons and unions in include/uapi/linux/kvm.h).
// KVM_EXIT_X86_RDMSR/WRMSR (KVM_CAP_X86_USER_SPACE_MSR, enabled by Vm.setUserspaceMsrs) decode to
// x86_rdmsr/x86_wrmsr; the VMM's error/data go back into kvm_run before the next KVM_RUN (vcpu.ts).
// Exit reasons the union has no member for (EXCEPTION, HYPERCALL, NMI …, none of which
// this backend enables) are reported the way KVM reports an exit it did not expect itself:
// internal_error with suberror KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON and data[0] = exit reason.

import type { VcpuExit } from '../backend.ts';
import {
  KvmExit,
  KvmInternalError,
  KVM_EXIT_IO_OUT,
  KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES,
} from './ioctls.ts';
import { KvmRun, KVM_INTERNAL_ERROR_DATA_MAX, KVM_SYSTEM_EVENT_DATA_MAX } from './layout.ts';

const EXIT_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(KvmExit).map(([k, v]) => [v, k]),
);

export function kvmExitName(reason: number): string {
  return `KVM_EXIT_${EXIT_NAMES[reason] ?? reason}`;
}

const INTERNAL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(KvmInternalError).map(([k, v]) => [v, `KVM_INTERNAL_ERROR_${k}`]),
);

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** Decode the exit in `run` (the mmap'd kvm_run page). Views in the result alias the page. */
export function decodeExit(run: ArrayBuffer, dv: DataView): VcpuExit {
  const reason = dv.getUint32(KvmRun.exit_reason, true);
  switch (reason) {
    case KvmExit.IO: {
      const size = dv.getUint8(KvmRun.io_size);
      const count = dv.getUint32(KvmRun.io_count, true);
      const off = Number(dv.getBigUint64(KvmRun.io_data_offset, true));
      if ((size !== 1 && size !== 2 && size !== 4) || off + size * count > run.byteLength) {
        return unexpected(reason, `malformed KVM_EXIT_IO (size ${size}, count ${count}, data_offset ${off})`);
      }
      return {
        reason: 'io',
        direction: dv.getUint8(KvmRun.io_direction) === KVM_EXIT_IO_OUT ? 'out' : 'in',
        port: dv.getUint16(KvmRun.io_port, true),
        size,
        count,
        data: new Uint8Array(run, off, size * count),
      };
    }
    case KvmExit.MMIO: {
      const len = Math.min(dv.getUint32(KvmRun.mmio_len, true), 8);
      return {
        reason: 'mmio',
        physAddr: dv.getBigUint64(KvmRun.mmio_phys_addr, true),
        isWrite: dv.getUint8(KvmRun.mmio_is_write) !== 0,
        len,
        data: new Uint8Array(run, KvmRun.mmio_data, len),
      };
    }
    case KvmExit.HLT:
      return { reason: 'hlt' };
    case KvmExit.SHUTDOWN:
      // On x86 KVM_EXIT_SHUTDOWN means the guest triple-faulted (or a shutdown-class event).
      return { reason: 'shutdown', why: 'triple fault (KVM_EXIT_SHUTDOWN)' };
    case KvmExit.FAIL_ENTRY:
      return {
        reason: 'fail_entry',
        hardwareEntryFailureReason: dv.getBigUint64(KvmRun.fail_entry_hardware_entry_failure_reason, true),
        cpu: dv.getUint32(KvmRun.fail_entry_cpu, true),
      };
    case KvmExit.INTERNAL_ERROR:
      return decodeInternalError(run, dv);
    case KvmExit.SYSTEM_EVENT: {
      const ndata = Math.min(dv.getUint32(KvmRun.system_event_ndata, true), KVM_SYSTEM_EVENT_DATA_MAX);
      const flags: bigint[] = [];
      // Kernels before 5.18 have one __u64 flags where data[0] now is, and ndata reads as 0.
      for (let i = 0; i < Math.max(ndata, 1); i++)
        flags.push(dv.getBigUint64(KvmRun.system_event_data + 8 * i, true));
      return { reason: 'system_event', type: dv.getUint32(KvmRun.system_event_type, true), flags };
    }
    case KvmExit.DEBUG:
      return {
        reason: 'debug',
        exception: dv.getUint32(KvmRun.debug_exception, true),
        pc: dv.getBigUint64(KvmRun.debug_pc, true),
        dr6: dv.getBigUint64(KvmRun.debug_dr6, true),
        dr7: dv.getBigUint64(KvmRun.debug_dr7, true),
      };
    case KvmExit.X86_RDMSR:
    case KvmExit.X86_WRMSR:
      return {
        reason: reason === KvmExit.X86_RDMSR ? 'x86_rdmsr' : 'x86_wrmsr',
        index: dv.getUint32(KvmRun.msr_index, true),
        data: reason === KvmExit.X86_RDMSR ? 0n : dv.getBigUint64(KvmRun.msr_data, true),
        error: false,
      };
    case KvmExit.INTR:
      return { reason: 'intr' };
    case KvmExit.IRQ_WINDOW_OPEN:
      return { reason: 'irq_window_open' };
    case KvmExit.UNKNOWN:
      return { reason: 'unknown', hardwareExitReason: dv.getBigUint64(KvmRun.hw_hardware_exit_reason, true) };
    default:
      return unexpected(reason, `unhandled ${kvmExitName(reason)} (exit reason ${reason})`);
  }
}

function unexpected(reason: number, message: string): VcpuExit {
  return {
    reason: 'internal_error',
    suberror: KvmInternalError.UNEXPECTED_EXIT_REASON,
    data: [BigInt(reason)],
    message: `tsvmm: ${message}`,
  };
}

function decodeInternalError(run: ArrayBuffer, dv: DataView): VcpuExit {
  const suberror = dv.getUint32(KvmRun.internal_suberror, true);
  const ndata = Math.min(dv.getUint32(KvmRun.internal_ndata, true), KVM_INTERNAL_ERROR_DATA_MAX);
  const data: bigint[] = [];
  for (let i = 0; i < ndata; i++) data.push(dv.getBigUint64(KvmRun.internal_data + 8 * i, true));
  const name = INTERNAL_NAMES[suberror] ?? `suberror ${suberror}`;
  if (suberror === KvmInternalError.EMULATION && ndata >= 2) {
    // Since Linux 5.14 an emulation failure carries {flags, insn_size, insn_bytes[15]} in data[0..2].
    const flags = dv.getBigUint64(KvmRun.emulation_failure_flags, true);
    if (flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) {
      const size = Math.min(dv.getUint8(KvmRun.emulation_failure_insn_size), 15);
      const insnBytes = new Uint8Array(
        run.slice(KvmRun.emulation_failure_insn_bytes, KvmRun.emulation_failure_insn_bytes + size),
      );
      return {
        reason: 'internal_error',
        suberror,
        data,
        insnBytes,
        message: `KVM internal error: emulation failure, instruction bytes [${hexBytes(insnBytes)}]`,
      };
    }
  }
  return { reason: 'internal_error', suberror, data, message: `KVM internal error: ${name}` };
}
