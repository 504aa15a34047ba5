// Types for initramfs.mjs (plain JavaScript so `node conformance/linux/build-initramfs.mjs` runs
// without a TypeScript loader).

export interface CpioEntry {
  name: string;
  /** st_mode: file type | permissions */
  mode: number;
  data?: Uint8Array;
  rdevMajor?: number;
  rdevMinor?: number;
  nlink?: number;
}

export const CPIO_MAGIC: string;
export const CPIO_HEADER_SIZE: number;
export const CPIO_TRAILER: string;
export const S_IFDIR: number;
export const S_IFREG: number;
export const S_IFCHR: number;
export const INIT_SOURCE: string;
export const REPO_ROOT: string;
export const DEFAULT_OUTPUT: string;
export const DEFAULT_INIT_BINARY: string;
export const INIT_CFLAGS: readonly string[];

export function writeCpio(entries: readonly CpioEntry[]): Uint8Array;
export function compileInit(output?: string, cc?: string): Uint8Array;
export function initramfsEntries(init: Uint8Array): CpioEntry[];
export function buildInitramfs(opts?: { output?: string; initBinary?: string }): {
  output: string;
  bytes: number;
  cpioBytes: number;
  initBytes: number;
  sha256: string;
};
