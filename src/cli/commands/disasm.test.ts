// `tsvmm disasm` output (Intel syntax as objdump -M intel prints it) and argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command } from './disasm.ts';

function run(args: string[]): { rc: Promise<number>; out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  return { rc: command.run(args, { out: (t) => void out.push(t), err: (t) => void err.push(t) }), out, err };
}

test('disasm prints one line per instruction: address, bytes, Intel-syntax text', async () => {
  const r = run(['--org', '4096', '4801d8', 'f390', '0f0b', '8b0510000000', 'ebfe']);
  assert.equal(await r.rc, 0);
  assert.deepEqual(r.out, [
    '00001000  48 01 d8                       add    rax,rbx',
    '00001003  f3 90                          pause',
    '00001005  0f 0b                          ud2',
    '00001007  8b 05 10 00 00 00              mov    eax,DWORD PTR [rip+0x10]        # 0x101d',
    '0000100d  eb fe                          jmp    0x100d',
  ]);
});

test('disasm --rows adds the table row; --bits 16/32 and --real select the mode', async () => {
  const rows = run(['--rows', '4801d8']);
  assert.equal(await rows.rc, 0);
  assert.match(rows.out[0]!, /^00000000 {2}48 01 d8 +add +rax,rbx {2}; add Ev,Gv \[o64 a64\]$/);
  const b16 = run(['--bits', '16', '8b4702']);
  assert.equal(await b16.rc, 0);
  assert.match(b16.out[0]!, /mov +ax,WORD PTR \[bx\+0x2\]$/);
  const b32 = run(['--bits', '32', '66a5']);
  assert.match(b32.out[0]!, /movs +WORD PTR es:\[edi\],WORD PTR ds:\[esi\]$/);
  // real mode: C4 with a memory ModRM is LES (in protected mode C4 with mod = 11b would start a VEX prefix)
  const real = run(['--bits', '16', '--real', 'c4063412']);
  assert.equal(await real.rc, 0);
  assert.match(real.out[0]!, /les +ax,DWORD PTR ds:0x1234$/);
  assert.equal(await run(['--real', '90']).rc, 2);
});

test('disasm --file with --offset/--length', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-disasm-'));
  try {
    const f = join(dir, 'code.bin');
    writeFileSync(f, Uint8Array.from([0xcc, 0x48, 0x31, 0xc0, 0xc3, 0xcc]));
    const r = run(['--file', f, '--offset', '1', '--length', '4', '--org', '0x400001']);
    assert.equal(await r.rc, 0);
    assert.deepEqual(r.out.map((l) => l.replace(/\s+/g, ' ')), ['00400001 48 31 c0 xor rax,rax', '00400004 c3 ret']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('disasm reports invalid encodings and exits 1; bad arguments exit 2', async () => {
  const r = run(['--bits', '64', '06']); // PUSH ES is invalid in 64-bit mode
  assert.equal(await r.rc, 1);
  assert.match(r.out[0]!, /#UD/);
  const bits32 = run(['--bits', '32', '06']);
  assert.equal(await bits32.rc, 0);
  assert.match(bits32.out[0]!, /push +es$/);
  assert.equal(await run(['--bits', '12', '90']).rc, 2);
  assert.equal(await run(['zz']).rc, 2);
  await assert.rejects(run(['--file', '/nonexistent/tsvmm-disasm']).rc, /DISASM_FILE|cannot read/);
});
