// A conformance worker process (forked by matrix.ts workerSlot): runs one guest at a time on its own
// backends (KVM, interpreter) through the tsvmm machine and sends the raw result back. Judging stays in
// the parent, so a cell's verdict never depends on which process ran it.

import { CpuidTable } from '../src/arch/x86/cpuid/table.ts';
import type { Backend } from '../src/vcpu/backend.ts';
import { createSuiteBackend, type SuiteBackendName } from './backends.ts';
import type { WorkerReply, WorkerRequest } from './matrix.ts';
import { machineExecutor, type GuestExecutor } from './runner.ts';

const executors = new Map<string, GuestExecutor>();

async function executorFor(name: string, mode: WorkerRequest['mode']): Promise<GuestExecutor> {
  let e = executors.get(name);
  if (e) return e;
  if (name !== 'kvm' && name !== 'interp') throw new Error(`unknown backend '${name}'`);
  const b = await createSuiteBackend(name as SuiteBackendName, mode);
  if (!b.backend) throw new Error(b.unavailable ?? 'backend unavailable');
  e = machineExecutor(b.backend as Backend);
  executors.set(name, e);
  return e;
}

process.on('message', (m: WorkerRequest) => {
  void (async () => {
    let reply: WorkerReply;
    try {
      const exec = await executorFor(m.backend, m.mode);
      const result = await exec({
        program: m.program,
        image: m.image,
        cpuid: CpuidTable.from(m.cpuid),
        cmdline: m.cmdline,
        entry: m.entry,
        timeoutMs: m.timeoutMs,
      });
      reply = { id: m.id, result };
    } catch (e) {
      reply = { id: m.id, error: (e as Error).message };
    }
    process.send?.(reply);
  })();
});
process.on('disconnect', () => process.exit(0));
