// The reproducible initramfs: the newc cpio format (the "SVR4 portable ASCII with no CRC" format the
// kernel unpacks: Linux Documentation/driver-api/early-userspace/buffer-format.rst, cpio(5)
// "New ASCII Format"), gzip-compressed with node:zlib, holding /dev, /dev/console (char 5,1) and the
// static /init built from init.c.
//
//   header (110 bytes): "070701" then 13 fields of 8 hex digits: ino, mode, uid, gid, nlink, mtime,
//   filesize, devmajor, devminor, rdevmajor, rdevminor, namesize (with NUL), check (0);
//   then the name, NUL, padding to a multiple of 4; then the data, padding to a multiple of 4.
//   The archive ends with an entry named "TRAILER!!!".
//
// Reproducible: fixed inode numbers, mtime 0, uid/gid 0, gzip header mtime 0; the only input that
// varies between hosts is the gcc that compiles init.c.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { TextEncoder } from 'node:util';

export const CPIO_MAGIC = '070701';
export const CPIO_HEADER_SIZE = 110;
export const CPIO_TRAILER = 'TRAILER!!!';
/** st_mode file types (inode(7)) */
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFCHR = 0o020000;

const HERE = dirname(fileURLToPath(import.meta.url));
export const INIT_SOURCE = join(HERE, 'init.c');
export const REPO_ROOT = join(HERE, '..', '..');
export const DEFAULT_OUTPUT = join(REPO_ROOT, 'build', 'initramfs.cpio.gz');
export const DEFAULT_INIT_BINARY = join(REPO_ROOT, 'build', 'linux', 'init');

/** gcc flags for /init: freestanding, static, no SSE/MMX, no PIC (issue 8). */
export const INIT_CFLAGS = [
  '-static',
  '-nostdlib',
  '-ffreestanding',
  '-mno-sse',
  '-mno-mmx',
  '-fno-pic',
  '-no-pie',
  '-Os',
  '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables',
  '-Wl,--build-id=none',
  '-Wall',
  '-Wextra',
  '-Werror',
];

function pad4(n) {
  return (4 - (n % 4)) % 4;
}

function hex8(v) {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new RangeError(`cpio field value ${v} does not fit in 8 hex digits`);
  return v.toString(16).padStart(8, '0');
}

/**
 * Write a newc archive. Each entry: { name, mode (type | permissions), data?, rdevMajor?, rdevMinor?,
 * nlink? }. Names are relative ("init", "dev/console"). Returns the archive bytes.
 */
export function writeCpio(entries) {
  const parts = [];
  const enc = new TextEncoder();
  let ino = 1;
  const all = [...entries, { name: CPIO_TRAILER, mode: 0, nlink: 1, trailer: true }];
  for (const e of all) {
    if (
      typeof e.name !== 'string' ||
      e.name.length === 0 ||
      e.name.startsWith('/') ||
      e.name.includes('\0')
    ) {
      throw new TypeError(`cpio entry name must be a non-empty relative path, got ${JSON.stringify(e.name)}`);
    }
    const data = e.data ?? new Uint8Array(0);
    const name = enc.encode(e.name);
    const isDir = (e.mode & 0o170000) === S_IFDIR;
    const fields = [
      e.trailer ? 0 : ino++,
      e.mode,
      0,
      0,
      e.nlink ?? (isDir ? 2 : 1),
      0,
      data.length,
      0,
      0,
      e.rdevMajor ?? 0,
      e.rdevMinor ?? 0,
      name.length + 1,
      0,
    ];
    const header = enc.encode(CPIO_MAGIC + fields.map(hex8).join(''));
    parts.push(header, name, new Uint8Array(1 + pad4(CPIO_HEADER_SIZE + name.length + 1)));
    parts.push(data, new Uint8Array(pad4(data.length)));
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Compile init.c to `output` with INIT_CFLAGS. Throws with gcc's message on failure. */
export function compileInit(output = DEFAULT_INIT_BINARY, cc = process.env.CC || 'gcc') {
  mkdirSync(dirname(output), { recursive: true });
  const r = spawnSync(cc, [...INIT_CFLAGS, '-o', output, INIT_SOURCE], { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run ${cc} to build /init (install Debian's gcc): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cc} failed to build /init:\n${r.stderr}`);
  return readFileSync(output);
}

/** The initramfs entries around an /init binary. */
export function initramfsEntries(init) {
  return [
    { name: 'dev', mode: S_IFDIR | 0o755 },
    { name: 'dev/console', mode: S_IFCHR | 0o600, rdevMajor: 5, rdevMinor: 1 },
    { name: 'init', mode: S_IFREG | 0o755, data: new Uint8Array(init) },
  ];
}

/** Build /init and the gzip'd archive; returns { output, bytes, sha256, initBytes }. */
export function buildInitramfs({ output = DEFAULT_OUTPUT, initBinary = DEFAULT_INIT_BINARY } = {}) {
  const init = compileInit(initBinary);
  const cpio = writeCpio(initramfsEntries(init));
  // gzip header: mtime 0 (zlib default), OS byte from zlib; level 9 for a stable, small archive.
  const gz = gzipSync(cpio, { level: 9 });
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, gz);
  return {
    output,
    bytes: gz.length,
    cpioBytes: cpio.length,
    initBytes: init.length,
    sha256: createHash('sha256').update(gz).digest('hex'),
  };
}
