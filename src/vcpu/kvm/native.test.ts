// The N-API binding (native/tsvmm_kvm.c): errno errors, argument checking and mappings. Skips when
// the binding is not built.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isErrnoError, loadNative } from './native.ts';

const loaded = loadNative();
const skip = loaded.ok ? false : loaded.reason;

test('a failing syscall throws an Error carrying the errno and its name', { skip }, () => {
  if (!loaded.ok) return;
  const n = loaded.native;
  assert.throws(
    () => n.open('/nonexistent/tsvmm', 2),
    (e: unknown) => isErrnoError(e) && e.code === 'ENOENT' && e.errno === 2,
  );
  assert.throws(
    () => n.ioctl(-1, 0xae00, 0),
    (e: unknown) => isErrnoError(e) && e.code === 'EBADF',
  );
  assert.throws(
    () => n.close(-1),
    (e: unknown) => isErrnoError(e) && e.code === 'EBADF',
  );
});

test('bad arguments are TypeErrors, not crashes', { skip }, () => {
  if (!loaded.ok) return;
  const n = loaded.native as unknown as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(() => n.ioctl!(0, 0xae00, 'x'), TypeError);
  assert.throws(() => n.ioctl!(0), TypeError);
  assert.throws(() => n.open!(42, 0), TypeError);
  assert.throws(() => n.mmapAnonymous!(-5), TypeError);
  assert.throws(() => n.mmapAnonymous!(1.5), TypeError);
  assert.throws(() => n.munmap!(new ArrayBuffer(8)), TypeError);
  assert.throws(() => n.address!({}), TypeError);
});

test('anonymous mappings: zero-filled, addressable, detached by munmap', { skip }, () => {
  if (!loaded.ok) return;
  const n = loaded.native;
  const m = n.mmapAnonymous(8192);
  assert.equal(m.byteLength, 8192);
  const a = n.address(m);
  assert.equal(a % 4096n, 0n, 'page aligned');
  const u = new Uint8Array(m);
  assert.equal(u[8191], 0);
  u[5] = 7;
  assert.equal(n.address(u.subarray(16)), a + 16n, 'a view reports its own data address');
  n.munmap(m);
  assert.equal(m.byteLength, 0);
  assert.throws(() => n.munmap(m), TypeError, 'a second munmap is refused');
});

test('run(): bad arguments are TypeErrors; a failing KVM_RUN throws its errno', { skip }, () => {
  if (!loaded.ok) return;
  const n = loaded.native;
  const page = new ArrayBuffer(4096);
  assert.throws(() => n.run(-1, 0xae80, page, 4096, 1e6), TypeError, 'immediate_exit offset outside');
  assert.throws(() => n.run(-1, 0xae80, page, 1, -1), TypeError, 'negative slice');
  assert.throws(() => n.run(-1, 0xae80, 'x' as unknown as ArrayBuffer, 1, 0), TypeError);
  for (const slice of [0, 1e6]) {
    assert.throws(
      () => n.run(-1, 0xae80, page, 1, slice),
      (e: unknown) => isErrnoError(e) && e.code === 'EBADF',
    );
  }
  assert.equal(new Uint8Array(page)[1], 0, 'immediate_exit is left cleared');
  const info = n.runInfo();
  assert.ok(info.signal > 0, `a real-time kick signal is installed (${info.signal})`);
  assert.equal(info.strays, 0);
});
