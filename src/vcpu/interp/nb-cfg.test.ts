// MSR_AMD64_NB_CFG (0xC001001F): KVM reads it as 0 and ignores writes for every guest vendor
// (kvm_get_msr_common / kvm_set_msr_common; Linux's amd_init touches it on families 10h-17h). The
// interpreter follows the contract's row (src/arch/x86/msr/table.ts), so the guest sees no #GP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInterpBackend } from './index.ts';

test('NB_CFG: guest RDMSR reads 0, WRMSR is accepted and dropped, as under KVM (no #GP)', () => {
  const vm = createInterpBackend({ budget: 1000 }).createVm();
  const buf = vm.allocateMemory(1 << 20);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: buf });
  const mem = new Uint8Array(buf);
  // mov ecx,0xc001001f; mov eax,0x12345678; mov edx,0x400000; wrmsr; xor eax,eax; rdmsr; hlt
  // prettier-ignore
  mem.set([
    0x66, 0xb9, 0x1f, 0x00, 0x01, 0xc0, 0x66, 0xb8, 0x78, 0x56, 0x34, 0x12, 0x66, 0xba, 0x00, 0x00, 0x40, 0x00,
    0x0f, 0x30, 0x66, 0x31, 0xc0, 0x0f, 0x32, 0xf4,
  ], 0x7c00);
  mem[0x9000] = 0xf4; // #GP handler: hlt at 0000:9000
  new DataView(buf).setUint32(13 * 4, 0x9000, true);
  const v = vm.createVcpu(0);
  const s = v.getSregs();
  v.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  v.setRegs({ ...v.getRegs(), rip: 0x7c00n, rsp: 0x7000n });
  assert.equal(v.run().reason, 'hlt');
  const r = v.getRegs();
  assert.equal(r.rip, 0x7c1an, 'no #GP: the HLT after RDMSR was reached');
  assert.equal(r.rax, 0n);
  assert.equal(r.rdx, 0n);
  assert.deepEqual(v.getMsrs([0xc001001f]), [{ index: 0xc001001f, data: 0n }], 'host read: 0');
});
