// Test helper run in a worker thread (run-slice.test.ts): a `jmp .` guest driven through three
// run slices on this thread, to show the slice timer is per thread. Posts the exit reasons.

import { parentPort } from 'node:worker_threads';
import { createKvmBackend } from '../system.ts';
import { runGuest } from './guest.ts';

const be = createKvmBackend({ contract: 'off', runSliceMs: 2 });
const g = runGuest(be, '1: jmp 1b', { mode: 'long64', maxExits: 0, idt: false });
const reasons: string[] = [];
for (let i = 0; i < 3; i++) reasons.push(g.vcpu.run().reason);
g.vm.destroy();
be.close();
parentPort?.postMessage(reasons);
