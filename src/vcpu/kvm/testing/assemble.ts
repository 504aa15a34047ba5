// Test helper: assemble a small guest program from GNU as (AT&T or .intel_syntax) source text into
// flat machine code with the machine's binutils (`as`, `ld -Ttext`, then `objcopy -O binary`). Used by the KVM
// probes and tests; they skip when binutils is absent.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Assembled = { ok: true; code: Uint8Array } | { ok: false; reason: string };

let toolsChecked: string | undefined | null = null;

/** undefined when `as` and `objcopy` run; else why not. */
export function binutilsMissing(): string | undefined {
  if (toolsChecked !== null) return toolsChecked;
  for (const tool of ['as', 'ld', 'objcopy']) {
    const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (r.status !== 0) {
      toolsChecked = `GNU binutils '${tool}' is not available`;
      return toolsChecked;
    }
  }
  toolsChecked = undefined;
  return undefined;
}

/**
 * Assemble `source` (start with `.code16`, `.code32` or `.code64` as needed) and link it so that
 * .text starts at guest address `origin`; labels are absolute guest addresses. Load the returned
 * bytes at `origin`.
 */
export function assemble(source: string, origin = 0x1000): Assembled {
  const missing = binutilsMissing();
  if (missing) return { ok: false, reason: missing };
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-asm-'));
  try {
    const src = join(dir, 'g.s');
    const obj = join(dir, 'g.o');
    const elf = join(dir, 'g.elf');
    const bin = join(dir, 'g.bin');
    writeFileSync(src, source + '\n');
    const a = spawnSync('as', ['--64', '-o', obj, src], { encoding: 'utf8' });
    if (a.status !== 0) return { ok: false, reason: `as failed: ${a.stderr}` };
    const l = spawnSync(
      'ld',
      ['-m', 'elf_x86_64', '-N', '-e', '0', `-Ttext=0x${origin.toString(16)}`, '-o', elf, obj],
      {
        encoding: 'utf8',
      },
    );
    if (l.status !== 0) return { ok: false, reason: `ld failed: ${l.stderr}` };
    const o = spawnSync('objcopy', ['-O', 'binary', '-j', '.text', elf, bin], { encoding: 'utf8' });
    if (o.status !== 0) return { ok: false, reason: `objcopy failed: ${o.stderr}` };
    return { ok: true, code: new Uint8Array(readFileSync(bin)) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
