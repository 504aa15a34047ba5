// Tests for the CPUID non-flag field decoders (SDM Vol.2A CPUID, APM Vol.3 App. E) against real dumps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TsvmmError } from '../../../util/result.ts';
import { CpuidTable, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from './table.ts';
import type { CpuidEntry } from './table.ts';
import {
  FIELDS,
  Field,
  brandString,
  cacheDescriptors,
  extractBits,
  familyModelStepping,
  familyModelSteppingOf,
  guestPhysAddrBits,
  hypervisorMaxLeaf,
  hypervisorSignature,
  leaf1Ebx,
  maxPhysAddr,
  readField,
  topologyLevels,
  virtAddrBits,
  xsaveComponent,
  xsaveSizes,
  xsaveSupportedXcr0,
  xsaveSupportedXss,
} from './fields.ts';
import type { FieldDef } from './fields.ts';

const FIX = '/work/shared/fixtures/cpuid';
const AIDA = join(FIX, 'instlatx64');

function loadKvmJson(path: string): CpuidTable {
  const doc = JSON.parse(readFileSync(path, 'utf8')) as { entries: Record<string, string | number>[] };
  const num = (v: string | number) => (typeof v === 'number' ? v : parseInt(v, 16)) >>> 0;
  return new CpuidTable(
    doc.entries.map((e) => ({
      function: num(e.function!),
      index: num(e.index!),
      flags: num(e.flags!),
      eax: num(e.eax!),
      ebx: num(e.ebx!),
      ecx: num(e.ecx!),
      edx: num(e.edx!),
    })),
  );
}

/** First logical CPU of an AIDA64 dump, plus the "CPUID CPU Name" header line. */
function loadAida(file: string): { table: CpuidTable; name: string } {
  const entries: CpuidEntry[] = [];
  let name = '';
  let cpus = 0;
  for (const line of readFileSync(join(AIDA, file), 'latin1').split(/\r?\n/)) {
    const n = /^CPUID CPU Name\s*:\s*(.*)$/.exec(line);
    if (n) name = n[1]!.trim();
    if (line.startsWith('------[ Logical CPU') && ++cpus > 1) break;
    const m = /^CPUID ([0-9A-F]{8}): ([0-9A-F]{8})-([0-9A-F]{8})-([0-9A-F]{8})-([0-9A-F]{8})(?: \[SL ([0-9A-F]{2})\])?/.exec(line);
    if (!m) continue;
    const h = (s: string) => parseInt(s, 16) >>> 0;
    // Older dumps omit [SL nn]: repeated lines of one leaf are then consecutive subleaves.
    const fn = h(m[1]!);
    const prev = entries[entries.length - 1];
    const index = m[6] ? h(m[6]) : prev && prev.function === fn ? prev.index + 1 : 0;
    entries.push({
      function: fn,
      index,
      flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      eax: h(m[2]!),
      ebx: h(m[3]!),
      ecx: h(m[4]!),
      edx: h(m[5]!),
    });
  }
  return { table: new CpuidTable(entries), name };
}

const AIDA_FILES = readdirSync(AIDA).filter((f) => f.endsWith('.txt'));
const HERE = () => loadKvmJson(join(FIX, 'this-machine/kvm-supported-cpuid.json'));

test('field table: unique names, valid ranges, no overlap within a register', () => {
  const names = new Set<string>();
  const ranges = new Map<string, [number, number, string][]>();
  for (const f of FIELDS as readonly FieldDef[]) {
    assert.ok(!names.has(f.name), `duplicate ${f.name}`);
    names.add(f.name);
    assert.ok(f.lo >= 0 && f.hi <= 31 && f.lo <= f.hi, f.name);
    assert.ok(!(f.perSubleaf && f.subleaf !== undefined), `${f.name}: perSubleaf with a fixed subleaf`);
    const k = `${f.leaf}:${f.perSubleaf ? '*' : (f.subleaf ?? 0)}:${f.reg}`;
    const list = ranges.get(k) ?? [];
    for (const [lo, hi, other] of list) assert.ok(f.hi < lo || f.lo > hi, `${f.name} overlaps ${other}`);
    list.push([f.lo, f.hi, f.name]);
    ranges.set(k, list);
  }
  assert.equal(Field.phys_addr_bits.leaf, 0x80000008);
});

test('extractBits and readField', () => {
  assert.equal(extractBits(0xdeadbeef, 0, 31), 0xdeadbeef);
  assert.equal(extractBits(0xdeadbeef, 28, 31), 0xd);
  assert.equal(extractBits(0xdeadbeef, 8, 15), 0xbe);
  const t = HERE();
  assert.equal(readField(t, 'phys_addr_bits'), 48);
  assert.equal(readField(t, Field.max_ext_leaf), 0x80000021);
  assert.equal(readField(t, 'ext_cache_level', 2), 2);
  assert.throws(() => readField(t, 'ext_cache_level'), (e: unknown) => e instanceof TsvmmError && e.code === 'CPUID_BAD_ARGUMENT');
  assert.throws(() => readField(t, 'xss_supported_lo', 0), (e: unknown) => e instanceof TsvmmError && e.code === 'CPUID_BAD_ARGUMENT');
  assert.throws(() => readField(t, 'bogus' as never), (e: unknown) => e instanceof TsvmmError && e.code === 'CPUID_UNKNOWN_FIELD');
});

test('family/model/stepping with the extended-field rules', () => {
  assert.deepEqual(familyModelSteppingOf(0x00800f11), { family: 0x17, model: 0x01, stepping: 1, raw: 0x00800f11 }); // Zen
  assert.deepEqual(familyModelSteppingOf(0x000306c3), { family: 6, model: 0x3c, stepping: 3, raw: 0x000306c3 }); // Haswell
  assert.deepEqual(familyModelSteppingOf(0x00000f29), { family: 0xf, model: 2, stepping: 9, raw: 0xf29 }); // P4: ext family 0
  assert.deepEqual(familyModelSteppingOf(0x00010530).model, 3); // family 5: extended model ignored
  const zen = loadAida('AuthenticAMD0800F11_K17_Zen_CPUID4.txt').table;
  assert.equal(familyModelStepping(zen).family, 0x17);
  const here = familyModelStepping(HERE());
  assert.deepEqual([here.family, here.model, here.stepping], [0x1a, 0x02, 1]); // README: family 1Ah model 02h
  // every InstLatx64 file name carries the raw signature: Vendor + 7 hex digits
  for (const f of AIDA_FILES) {
    const sig = parseInt(/^(?:GenuineIntel|AuthenticAMD)([0-9A-F]{7})/.exec(f)![1]!, 16);
    assert.equal(familyModelStepping(loadAida(f).table).raw, sig, f);
  }
});

test('brand string matches the dump header on every real CPU', () => {
  let checked = 0;
  for (const f of AIDA_FILES) {
    const { table, name } = loadAida(f);
    assert.match(brandString(table), /^(AMD|Intel|Genuine Intel)/, f);
    if (!name) continue; // not every dump has the "CPUID CPU Name" header
    checked++;
    assert.equal(brandString(table).replace(/\s+/g, ' '), name.replace(/\s+/g, ' '), f);
  }
  assert.ok(checked >= 5, `only ${checked} dumps had a name header`);
  assert.equal(brandString(HERE()), ''); // KVM passes zeros through here
  assert.equal(brandString(new CpuidTable()), '');
});

test('leaf 1 EBX decode', () => {
  assert.deepEqual(leaf1Ebx(HERE()), { brandIndex: 0, clflushLineSize: 64, maxLogicalProcessors: 2, initialApicId: 1 });
});

test('MAXPHYADDR, virtual and guest-physical widths', () => {
  const t = HERE();
  assert.equal(maxPhysAddr(t), 48);
  assert.equal(virtAddrBits(t), 48);
  assert.equal(guestPhysAddrBits(t), 0);
  assert.equal(maxPhysAddr(new CpuidTable()), 36);
  // leaf 0x80000008 present but not enumerated by 0x80000000:EAX → 36 (KVM rule)
  const low = t.clone();
  low.put({ ...t.get(0x80000000)!, eax: 0x80000007 });
  assert.equal(maxPhysAddr(low), 36);
  assert.equal(virtAddrBits(low), 48); // LM set
  low.setBit({ leaf: 0x80000001, reg: 'edx', bit: 29 }, false);
  assert.equal(virtAddrBits(low), 32);
  const icx = loadAida('GenuineIntel00606A6_ICX_04_CPUID.txt').table;
  assert.equal(maxPhysAddr(icx), 46); // 80000008:EAX = 0x392E
  assert.equal(virtAddrBits(icx), 57);
});

test('XSAVE: supported XCR0/XSS, sizes and component layout', () => {
  const t = HERE();
  assert.equal(xsaveSupportedXcr0(t), 0xe7n);
  assert.equal(xsaveSupportedXss(t), 0n);
  assert.deepEqual(xsaveSizes(t), { enabled: 0x980, max: 0x980, compacted: 0 });
  assert.deepEqual(xsaveComponent(t, 2), { index: 2, size: 0x100, offset: 0x240, supervisor: false, align64: false, xfd: false });
  assert.equal(xsaveComponent(t, 3), undefined);
  assert.equal(xsaveComponent(t, 7)?.offset, 0x580);
  for (const bad of [0, 1, 64, 2.5, -1]) assert.throws(() => xsaveComponent(t, bad), TsvmmError);
});

test('XSAVE standard-format layout is consistent on every real CPU (max size = end of the last user component)', () => {
  let checked = 0;
  for (const f of AIDA_FILES) {
    if (!readFileSync(join(AIDA, f), 'latin1').includes('[SL ')) continue; // old format lists only some 0xD subleaves
    const { table } = loadAida(f);
    const xcr0 = xsaveSupportedXcr0(table);
    if (xcr0 === 0n) continue;
    checked++;
    let end = 576; // legacy region (512) + XSAVE header (64)
    for (let i = 2; i < 64; i++) {
      if (!((xcr0 >> BigInt(i)) & 1n)) continue;
      const c = xsaveComponent(table, i);
      assert.ok(c, `${f}: XCR0 bit ${i} without a 0xD subleaf`);
      assert.equal(c.supervisor, false, `${f}: component ${i}`);
      end = Math.max(end, c.offset + c.size);
    }
    assert.equal(xsaveSizes(table).max, end, f);
  }
  assert.ok(checked >= 10, `only ${checked} dumps checked`);
});

test('cache descriptors from leaf 8000001DH (this machine) and leaf 4 (Intel)', () => {
  const c = cacheDescriptors(HERE(), 0x8000001d);
  assert.deepEqual(
    c.map((d) => [d.level, d.type, d.sizeBytes]),
    [
      [1, 'data', 48 * 1024],
      [1, 'instruction', 32 * 1024],
      [2, 'unified', 1024 * 1024],
      [3, 'unified', 32 * 1024 * 1024],
    ],
  );
  assert.equal(c[0]!.lineSize, 64);
  assert.equal(c[0]!.ways, 12);
  const hsw = cacheDescriptors(loadAida('GenuineIntel00306C3_Haswell_CPUID.txt').table, 4);
  assert.deepEqual(hsw.slice(0, 3).map((d) => [d.level, d.type, d.sizeBytes]), [
    [1, 'data', 32 * 1024],
    [1, 'instruction', 32 * 1024],
    [2, 'unified', 256 * 1024],
  ]);
  assert.throws(() => cacheDescriptors(HERE(), 5 as never), TsvmmError);
  // a table whose cache type never reaches 0 still terminates
  const loop = new CpuidTable([{ function: 4, index: 0, flags: 0, eax: 0x21, ebx: 0, ecx: 0, edx: 0 }]);
  assert.equal(cacheDescriptors(loop, 4).length, 64);
});

test('extended topology levels', () => {
  assert.deepEqual(topologyLevels(HERE(), 0xb), []); // KVM reports no topology
  const skx = topologyLevels(loadAida('GenuineIntel0050654_SkylakeX_CPUID.txt').table, 0xb);
  assert.deepEqual(skx.map((l) => l.type), ['smt', 'core']);
  assert.equal(skx[0]!.shift, 1);
  assert.throws(() => topologyLevels(HERE(), 4 as never), TsvmmError);
});

test('hypervisor signature leaf', () => {
  const t = HERE();
  assert.equal(hypervisorSignature(t), 'KVMKVMKVM');
  assert.equal(hypervisorMaxLeaf(t), 0x40000001);
  assert.equal(hypervisorSignature(new CpuidTable()), '');
});
