// Builds the optional /dev/kvm N-API binding. Never fails the install: without a compiler or
// without Linux the KVM backend is simply unavailable and its tests skip.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'src/vcpu/kvm/native');
if (process.platform !== 'linux' || !existsSync(join(dir, 'binding.gyp'))) {
  process.exit(0);
}
const gyp = spawnSync('npx', ['--no-install', 'node-gyp', 'rebuild'], { cwd: dir, stdio: 'inherit' });
if (gyp.status !== 0) {
  console.warn('tsvmm: the /dev/kvm binding did not build; the KVM backend will be unavailable.');
}
