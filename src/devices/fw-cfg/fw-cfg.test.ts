import { test } from 'node:test';
import assert from 'node:assert/strict';
import { structSize } from '../../loaders/layout/struct.ts';
import {
  FW_CFG_DMA_ACCESS,
  FW_CFG_DMA_ACCESS_SIZE,
  FW_CFG_FILE,
  FW_CFG_FILE_ENTRY_SIZE,
  FW_CFG_FILE_NAME_OFFSET,
  FW_CFG_FILE_NAME_SIZE,
  encodeCpuPolicy,
  FW_CFG_REG,
  FwCfg,
  FwCfgDma,
  FwCfgKey,
  TSVMM_CPU_POLICY_FILE,
  type DmaMemory,
} from './fw-cfg.ts';

function select(f: FwCfg, key: number): void {
  f.write(FW_CFG_REG.SELECTOR, 2, key);
}
function readBytes(f: FwCfg, n: number): number[] {
  return Array.from({ length: n }, () => f.read(FW_CFG_REG.DATA, 1));
}
function fakeMemory(size: number): DmaMemory & { bytes: Uint8Array } {
  const bytes = new Uint8Array(size);
  return {
    bytes,
    isRam: (a, l) => a >= 0 && a + l <= size,
    slice: (a, l) => bytes.subarray(a, a + l),
  };
}

test('signature "QEMU", ID, CPU count, RAM size', () => {
  const f = new FwCfg({ cpus: 3, ramBytes: 256 * 1024 * 1024 });
  select(f, FwCfgKey.SIGNATURE);
  assert.equal(String.fromCharCode(...readBytes(f, 4)), 'QEMU');
  select(f, FwCfgKey.ID);
  assert.deepEqual(readBytes(f, 4), [1, 0, 0, 0], 'traditional interface only without DMA memory');
  select(f, FwCfgKey.NB_CPUS);
  assert.deepEqual(readBytes(f, 2), [3, 0]);
  select(f, FwCfgKey.RAM_SIZE);
  assert.deepEqual(readBytes(f, 8), [0, 0, 0, 0x10, 0, 0, 0, 0]);
});

test('reads past the end of an item and of unknown keys return 0', () => {
  const f = new FwCfg({ cpus: 1, ramBytes: 1 << 24 });
  select(f, FwCfgKey.SIGNATURE);
  assert.deepEqual(readBytes(f, 6), [0x51, 0x45, 0x4d, 0x55, 0, 0]);
  select(f, 0x1234);
  assert.deepEqual(readBytes(f, 4), [0, 0, 0, 0]);
  select(f, 0x7fff);
  assert.equal(f.read(FW_CFG_REG.DATA, 4), 0);
  // data-port writes are ignored
  f.write(FW_CFG_REG.DATA, 1, 0xaa);
  select(f, FwCfgKey.SIGNATURE);
  assert.equal(f.read(FW_CFG_REG.DATA, 1), 0x51);
});

test('reselecting restarts the item; the write bit (14) is not part of the key', () => {
  const f = new FwCfg({ cpus: 1, ramBytes: 1 << 24 });
  select(f, FwCfgKey.SIGNATURE);
  readBytes(f, 3);
  select(f, FwCfgKey.SIGNATURE | 0x4000);
  assert.equal(f.read(FW_CFG_REG.DATA, 1), 0x51);
});

test('file directory: big-endian count and entries, names sorted, files readable by key', () => {
  const f = new FwCfg({ cpus: 1, ramBytes: 1 << 24 });
  const k1 = f.addFile('etc/zeta', new Uint8Array([1, 2, 3]));
  const k2 = f.addFile('etc/alpha', new Uint8Array([9, 8]));
  assert.equal(k1, 0x20);
  assert.equal(k2, 0x21);
  select(f, FwCfgKey.FILE_DIR);
  const dir = new Uint8Array(readBytes(f, 4 + 2 * 64));
  const dv = new DataView(dir.buffer);
  assert.equal(dv.getUint32(0, false), 2);
  const entry = (i: number) => ({
    size: dv.getUint32(4 + i * 64, false),
    select: dv.getUint16(4 + i * 64 + 4, false),
    name: new TextDecoder().decode(dir.subarray(4 + i * 64 + 8, 4 + i * 64 + 64)).replace(/\0+$/, ''),
  });
  assert.deepEqual(entry(0), { size: 2, select: 0x21, name: 'etc/alpha' });
  assert.deepEqual(entry(1), { size: 3, select: 0x20, name: 'etc/zeta' });
  select(f, 0x20);
  assert.deepEqual(readBytes(f, 3), [1, 2, 3]);
  assert.throws(() => f.addFile('x'.repeat(56), new Uint8Array()), { code: 'FW_CFG_FILE_NAME' });
  assert.throws(() => f.addFile('', new Uint8Array()), { code: 'FW_CFG_FILE_NAME' });
});

test('cpu-policy file encodes kvm_cpuid_entry2 records', () => {
  const bytes = encodeCpuPolicy([
    { function: 7, index: 0, flags: 1, eax: 0, ebx: 0x80, ecx: 0, edx: 0xffffffff },
  ]);
  assert.equal(bytes.length, 40);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(0, true), 7);
  assert.equal(dv.getUint32(8, true), 1);
  assert.equal(dv.getUint32(16, true), 0x80);
  assert.equal(dv.getUint32(24, true), 0xffffffff);
  const f = new FwCfg({ cpus: 1, ramBytes: 1 << 24 });
  const key = f.addFile(TSVMM_CPU_POLICY_FILE, bytes);
  assert.deepEqual(f.item(key), bytes);
});

test('DMA: select + read into guest memory, control word cleared; errors flagged', () => {
  const mem = fakeMemory(0x10000);
  const f = new FwCfg({ cpus: 2, ramBytes: 1 << 24, memory: mem });
  select(f, FwCfgKey.ID);
  assert.deepEqual(readBytes(f, 4), [3, 0, 0, 0], 'ID advertises DMA');
  assert.equal(f.read(FW_CFG_REG.DMA_HIGH, 4), 0x554d4551, 'DMA register reads "QEMU CFG" (big-endian)');
  const ctl = new DataView(mem.bytes.buffer, 0x100, 16);
  ctl.setUint32(0, (FwCfgKey.SIGNATURE << 16) | FwCfgDma.SELECT | FwCfgDma.READ, false);
  ctl.setUint32(4, 4, false);
  ctl.setBigUint64(8, 0x200n, false);
  const be = (v: number) =>
    new DataView(new Uint8Array([v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]).buffer).getUint32(
      0,
      true,
    );
  f.write(FW_CFG_REG.DMA_HIGH, 4, be(0));
  f.write(FW_CFG_REG.DMA_LOW, 4, be(0x100));
  assert.equal(new TextDecoder().decode(mem.bytes.subarray(0x200, 0x204)), 'QEMU');
  assert.equal(ctl.getUint32(0, false), 0);
  // destination outside memory → ERROR
  ctl.setUint32(0, (FwCfgKey.NB_CPUS << 16) | FwCfgDma.SELECT | FwCfgDma.READ, false);
  ctl.setBigUint64(8, 0xffff0n, false);
  f.write(FW_CFG_REG.DMA_LOW, 4, be(0x100));
  assert.equal(ctl.getUint32(0, false), FwCfgDma.ERROR);
});

test('snapshot/restore round-trip keeps the selection and offset', () => {
  const f = new FwCfg({ cpus: 1, ramBytes: 1 << 24 });
  select(f, FwCfgKey.SIGNATURE);
  readBytes(f, 2);
  const g = new FwCfg({ cpus: 1, ramBytes: 1 << 24 });
  g.restore(JSON.parse(JSON.stringify(f.snapshot())));
  assert.equal(String.fromCharCode(g.read(FW_CFG_REG.DATA, 1)), 'M');
  assert.throws(() => g.restore({ selector: 'x' }), { code: 'SNAPSHOT_INVALID' });
  g.reset();
  assert.equal(g.read(FW_CFG_REG.DATA, 1), 0x51, 'reset selects the signature again');
});

test('file entry and DMA access layouts match QEMU (fw_cfg.rst)', () => {
  assert.equal(structSize(FW_CFG_FILE) + FW_CFG_FILE_NAME_SIZE, FW_CFG_FILE_ENTRY_SIZE);
  assert.equal(FW_CFG_FILE_NAME_OFFSET, 8);
  assert.deepEqual(FW_CFG_FILE.select, [4, 2]);
  assert.equal(structSize(FW_CFG_DMA_ACCESS), FW_CFG_DMA_ACCESS_SIZE);
  assert.deepEqual(FW_CFG_DMA_ACCESS.address, [8, 8]);
});
