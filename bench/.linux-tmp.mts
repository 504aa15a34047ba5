import { readFileSync, readdirSync } from 'node:fs';
import { createMachine } from '/work/main/src/machine/machine.ts';
import { createInterpBackend } from '/work/main/src/vcpu/interp/index.ts';
const MiB = 1 << 20;
const k = readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-'))[0]!;
const backend = createInterpBackend();
let text = '';
const dec = new TextDecoder();
const m = createMachine({ backend, memoryBytes: 256 * MiB, cpuid: backend.supportedCpuid(), platform: 'pc',
  serial: { out: (b) => { const s = dec.decode(b, { stream: true }); text += s; process.stdout.write(s); } } });
m.load({ kind: 'linux', kernel: new Uint8Array(readFileSync(`/boot/${k}`)), cmdline: 'console=ttyS0 earlyprintk=serial,ttyS0', hostDecompress: true });
const t0 = Date.now();
const r = await m.run({ timeoutMs: Number(process.argv[2] ?? 120000) });
console.log('\n=== outcome', r.outcome, r.detail, (Date.now() - t0) / 1000, 's');
