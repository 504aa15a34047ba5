// Checks the offset tables of layout.ts and the numbers of ioctls.ts against the C definitions in
// <linux/kvm.h>: a small C program compiled with the machine's gcc prints offsetof/sizeof and the
// macro values. Skipped when gcc or the header is absent (Debian: apt-get install gcc linux-libc-dev).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as L from './layout.ts';
import { Ioctl, KvmCap, KvmExit, KvmInternalError, KvmSystemEvent } from './ioctls.ts';

const HEADER = '/usr/include/linux/kvm.h';

function cProgramSkip(): string | false {
  if (process.platform !== 'linux') return 'not Linux';
  if (!existsSync(HEADER)) return `${HEADER} is absent (apt-get install linux-libc-dev)`;
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is not available';
  return false;
}
const skip = cProgramSkip();

/** TS table → C struct, for tables whose keys are the C member names. */
const PLAIN: [Record<string, number>, string][] = [
  [L.KvmRegs, 'kvm_regs'],
  [L.KvmSegment, 'kvm_segment'],
  [L.KvmDtable, 'kvm_dtable'],
  [L.KvmSregs, 'kvm_sregs'],
  [L.KvmMsrEntry, 'kvm_msr_entry'],
  [L.KvmMsrs, 'kvm_msrs'],
  [L.KvmMsrList, 'kvm_msr_list'],
  [L.KvmCpuidEntry2, 'kvm_cpuid_entry2'],
  [L.KvmCpuid2, 'kvm_cpuid2'],
  [L.KvmXcr, 'kvm_xcr'],
  [L.KvmXcrs, 'kvm_xcrs'],
  [L.KvmFpu, 'kvm_fpu'],
  [L.KvmInterrupt, 'kvm_interrupt'],
  [L.KvmUserspaceMemoryRegion, 'kvm_userspace_memory_region'],
  [L.KvmEnableCap, 'kvm_enable_cap'],
  [L.KvmMsrFilterRange, 'kvm_msr_filter_range'],
  [L.KvmMsrFilter, 'kvm_msr_filter'],
];

/** kvm_run keys → C member designators */
const RUN: Record<keyof typeof L.KvmRun, string> = {
  request_interrupt_window: 'request_interrupt_window',
  immediate_exit: 'immediate_exit',
  exit_reason: 'exit_reason',
  ready_for_interrupt_injection: 'ready_for_interrupt_injection',
  if_flag: 'if_flag',
  flags: 'flags',
  cr8: 'cr8',
  apic_base: 'apic_base',
  exit: 'hw',
  hw_hardware_exit_reason: 'hw.hardware_exit_reason',
  fail_entry_hardware_entry_failure_reason: 'fail_entry.hardware_entry_failure_reason',
  fail_entry_cpu: 'fail_entry.cpu',
  ex_exception: 'ex.exception',
  ex_error_code: 'ex.error_code',
  io_direction: 'io.direction',
  io_size: 'io.size',
  io_port: 'io.port',
  io_count: 'io.count',
  io_data_offset: 'io.data_offset',
  debug_exception: 'debug.arch.exception',
  debug_pc: 'debug.arch.pc',
  debug_dr6: 'debug.arch.dr6',
  debug_dr7: 'debug.arch.dr7',
  mmio_phys_addr: 'mmio.phys_addr',
  mmio_data: 'mmio.data',
  mmio_len: 'mmio.len',
  mmio_is_write: 'mmio.is_write',
  internal_suberror: 'internal.suberror',
  internal_ndata: 'internal.ndata',
  internal_data: 'internal.data',
  emulation_failure_flags: 'emulation_failure.flags',
  emulation_failure_insn_size: 'emulation_failure.insn_size',
  emulation_failure_insn_bytes: 'emulation_failure.insn_bytes',
  msr_error: 'msr.error',
  msr_reason: 'msr.reason',
  msr_index: 'msr.index',
  msr_data: 'msr.data',
  system_event_type: 'system_event.type',
  system_event_ndata: 'system_event.ndata',
  system_event_data: 'system_event.data',
  kvm_valid_regs: 'kvm_valid_regs',
  kvm_dirty_regs: 'kvm_dirty_regs',
  s: 's',
};

interface Row {
  key: string;
  ts: number;
  c: string;
}

function rows(): Row[] {
  const out: Row[] = [];
  for (const [table, struct] of PLAIN) {
    for (const [k, v] of Object.entries(table)) {
      out.push({
        key: `${struct}.${k}`,
        ts: v,
        c: k === 'SIZE' ? `sizeof(struct ${struct})` : `offsetof(struct ${struct}, ${k})`,
      });
    }
  }
  for (const [k, v] of Object.entries(L.KvmRun)) {
    out.push({ key: `kvm_run.${k}`, ts: v, c: `offsetof(struct kvm_run, ${RUN[k as keyof typeof RUN]})` });
  }
  out.push({ key: 'KVM_MAX_XCRS', ts: L.KVM_MAX_XCRS, c: 'KVM_MAX_XCRS' });
  out.push({ key: 'KVM_MEM_READONLY', ts: L.KVM_MEM_READONLY, c: 'KVM_MEM_READONLY' });
  for (const k of [
    'KVM_MSR_FILTER_MAX_RANGES',
    'KVM_MSR_FILTER_READ',
    'KVM_MSR_FILTER_WRITE',
    'KVM_MSR_EXIT_REASON_INVAL',
    'KVM_MSR_EXIT_REASON_UNKNOWN',
    'KVM_MSR_EXIT_REASON_FILTER',
  ] as const)
    out.push({ key: k, ts: L[k], c: k });
  for (const [k, v] of Object.entries(Ioctl)) out.push({ key: k, ts: v, c: k });
  for (const [k, v] of Object.entries(KvmCap)) out.push({ key: `KVM_CAP_${k}`, ts: v, c: `KVM_CAP_${k}` });
  for (const [k, v] of Object.entries(KvmExit)) {
    // exit numbers newer than the installed header are checked only where the header has them
    out.push({ key: `KVM_EXIT_${k}`, ts: v, c: `KVM_EXIT_${k}` });
  }
  for (const [k, v] of Object.entries(KvmInternalError))
    out.push({ key: `KVM_INTERNAL_ERROR_${k}`, ts: v, c: `KVM_INTERNAL_ERROR_${k}` });
  for (const [k, v] of Object.entries(KvmSystemEvent))
    out.push({ key: `KVM_SYSTEM_EVENT_${k}`, ts: v, c: `KVM_SYSTEM_EVENT_${k}` });
  return out;
}

function runC(all: Row[]): Map<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-kvmh-'));
  try {
    const lines = all.map((r) => {
      const guard = /^(KVM_[A-Z0-9_]+)$/.test(r.c) ? r.c : undefined;
      const print = `printf("%s %llu\\n", "${r.key}", (unsigned long long)(${r.c}));`;
      return guard ? `#ifdef ${guard}\n${print}\n#endif` : print;
    });
    const src = `#include <stddef.h>\n#include <stdio.h>\n#include <linux/kvm.h>\nint main(void) {\n${lines.join('\n')}\nreturn 0;\n}\n`;
    writeFileSync(join(dir, 'k.c'), src);
    const cc = spawnSync('gcc', ['-o', join(dir, 'k'), join(dir, 'k.c')], { encoding: 'utf8' });
    assert.equal(cc.status, 0, `gcc failed:\n${cc.stderr}`);
    const run = spawnSync(join(dir, 'k'), { encoding: 'utf8' });
    assert.equal(run.status, 0);
    const m = new Map<string, number>();
    for (const line of run.stdout.trim().split('\n')) {
      const [k, v] = line.split(' ');
      m.set(k!, Number(v));
    }
    return m;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('KVM struct offsets, sizes and ioctl numbers match <linux/kvm.h>', { skip }, () => {
  const all = rows();
  const c = runC(all);
  const mismatches = all
    .filter((r) => c.has(r.key) && c.get(r.key) !== r.ts)
    .map((r) => `${r.key}: ts ${r.ts}, C ${c.get(r.key)}`);
  assert.deepEqual(mismatches, []);
  // Everything except exit reasons newer than an old header must have been checked.
  const unchecked = all.filter((r) => !c.has(r.key)).map((r) => r.key);
  assert.ok(
    unchecked.every((k) => k.startsWith('KVM_EXIT_')),
    `not in the header: ${unchecked.join(', ')}`,
  );
  assert.ok(c.size > 150, `only ${c.size} values were checked`);
});

test('the kvm_run union members all lie inside the 256-byte union', () => {
  for (const [k, v] of Object.entries(L.KvmRun)) {
    if (['kvm_valid_regs', 'kvm_dirty_regs', 's'].includes(k) || v < L.KvmRun.exit) continue;
    assert.ok(v >= 0x20 && v < 0x20 + 256, `${k} at ${v}`);
  }
  assert.equal(L.KvmRun.kvm_valid_regs, 0x20 + 256);
});
