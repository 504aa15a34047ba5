// The instruction-corpus guest program: many cases per VM entry in 64-bit mode (Intel SDM Vol. 3A
// §9.8.5 IA-32e mode, §6.14 64-bit exception handling; Vol. 2 POP, POPF, PUSH, PUSHF, MOV). For each
// case the code loads every GPR and RFLAGS from the case's input record (POP ×15, POPFQ, MOV RSP), runs
// the one instruction under test, and stores every GPR and RFLAGS to its output record (MOV [abs],RSP;
// MOV ESP,imm; PUSHFQ; PUSH ×15). An exception goes through a 64-bit IDT to a handler that records the
// vector, error code and faulting RIP in the output record and resumes at the next case. All of the
// scaffolding is machine code written here byte by byte (no assembler needed).
//
// Guest physical = linear (identity-mapped by src/vcpu/kvm/testing/guest-setup.ts, 2 MiB pages):
//
//   0x000500  GDT (guest-setup)            0x009000  page tables (guest-setup)
//   0x001000  IDT, 256 interrupt gates      0x020000  exception stubs, 16 bytes each, then the handler
//   0x030000  CUR: index of the running case (the prologue writes it)
//   0x040000  CASE[i]: address of case i's code, CASE[n] = the final HLT (the handler jumps to CASE[CUR+1])
//   0x100000  case code                     0x1000000 input records  (IN_SIZE each)
//   0x2000000 output records (OUT_SIZE)      0x3000000 scratch blocks (SCRATCH_SIZE each): data and stack

export const IDT_ADDR = 0x1000;
export const STUBS_ADDR = 0x20000;
export const CUR_ADDR = 0x30000;
export const NEXT_TABLE = 0x40000;
export const CODE_ADDR = 0x100000;
export const IN_BASE = 0x1000000;
export const OUT_BASE = 0x2000000;
export const SCRATCH_BASE = 0x3000000;
export const MEM_BYTES = 0x4000000;
export const IN_SIZE = 144;
export const OUT_SIZE = 160;
export const SCRATCH_SIZE = 256;
export const MAX_CASES = (MEM_BYTES - SCRATCH_BASE) / SCRATCH_SIZE;
export const CODE_SEL = 0x08;
export const DATA_SEL = 0x10;

/** Record slots (qwords): GPRs in POP order without RSP, then RFLAGS, then RSP. */
export const SLOT_RFLAGS = 15;
export const SLOT_RSP = 16;
/** output record: outcome (NO_FAULT or the vector), error code, faulting RIP */
export const OUT_VECTOR = 136;
export const OUT_ERROR = 144;
export const OUT_FRIP = 152;
export const NO_FAULT = 0xffffffffn;
export const POISON = 0xdeadbeefdeadbeefn;

/** The record slot of GPR n (0 = RAX … 15 = R15). */
export function slotOf(reg: number): number {
  if (reg === 4) return SLOT_RSP;
  return reg < 4 ? reg : reg - 1;
}

const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);

export interface GuestCase {
  /** the instruction under test followed by any fixed trailer (the Jcc pattern) */
  readonly code: Uint8Array;
  /** length of the instruction itself: NEXT_IP = its address + insnLen */
  readonly insnLen: number;
  /** a RIP-relative disp32 to patch so that it addresses `ripTarget` */
  readonly ripDispAt?: number;
  readonly ripTarget?: number;
  /** GPR values by register number; regs[4] (RSP) must address this case's scratch block */
  readonly regs: readonly bigint[];
  readonly rflags: bigint;
  /** initial contents of the case's scratch block (SCRATCH_SIZE bytes) */
  readonly scratch: Uint8Array;
  /** places that receive NEXT_IP (control-transfer cases): a register, or a scratch offset */
  readonly nextFix?: readonly ({ readonly reg: number } | { readonly off: number; readonly size: 2 | 4 | 8 })[];
  /** code run after the output record is stored (e.g. reload the flat data segments) */
  readonly post?: readonly number[];
}

export interface GuestImage {
  readonly memory: Uint8Array;
  readonly count: number;
  /** address of each case's instruction under test */
  readonly insnAddr: readonly number[];
}

export function scratchAddr(i: number): number {
  return SCRATCH_BASE + i * SCRATCH_SIZE;
}

const b = (...v: number[]): number[] => v;

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** mov dword [abs CUR], i; mov esp, IN[i]; pop rax…r15 (skipping RSP); popfq; mov rsp, [rsp] */
function prologue(i: number): number[] {
  const out = [0xc7, 0x04, 0x25, ...le32(CUR_ADDR), ...le32(i), 0xbc, ...le32(IN_BASE + i * IN_SIZE)];
  out.push(0x58, 0x59, 0x5a, 0x5b, 0x5d, 0x5e, 0x5f);
  for (let r = 0; r < 8; r++) out.push(0x41, 0x58 + r);
  out.push(0x9d, 0x48, 0x8b, 0x24, 0x24);
  return out;
}

/** mov [abs OUT[i].rsp], rsp; mov esp, &OUT[i].rflags+8; pushfq; push r15…r8, rdi, rsi, rbp, rbx, rdx, rcx, rax */
function epilogue(i: number): number[] {
  const rec = OUT_BASE + i * OUT_SIZE;
  const out = [0x48, 0x89, 0x24, 0x25, ...le32(rec + SLOT_RSP * 8), 0xbc, ...le32(rec + SLOT_RSP * 8), 0x9c];
  for (let r = 7; r >= 0; r--) out.push(0x41, 0x50 + r);
  out.push(0x57, 0x56, 0x55, 0x53, 0x52, 0x51, 0x50);
  return out;
}

/**
 * Vector stubs (push 0 when the CPU pushes no error code; push vector; jmp handler) and the handler:
 * OUT[CUR].vector/error/rip ← the frame, then jmp CASE[CUR+1]. It runs on the case's stack (RSP stays
 * inside the scratch block for every case) and clobbers RAX/RCX, which a faulting case does not compare.
 */
function handlerCode(): Uint8Array {
  const code = new Uint8Array(0x1000 + 0x100);
  const common = STUBS_ADDR + 0x1000;
  for (let v = 0; v < 256; v++) {
    const at = 16 * v;
    const s: number[] = [];
    if (!ERROR_CODE_VECTORS.has(v)) s.push(0x6a, 0x00);
    s.push(0x68, ...le32(v));
    const rel = common - (STUBS_ADDR + at + s.length + 5);
    s.push(0xe9, ...le32(rel));
    code.set(s, at);
  }
  const h = b(
    0x8b, 0x04, 0x25, ...le32(CUR_ADDR), // mov eax, [CUR]
    0x69, 0xc0, ...le32(OUT_SIZE), // imul eax, eax, OUT_SIZE
    0x48, 0x05, ...le32(OUT_BASE), // add rax, OUT_BASE
    0x59, 0x48, 0x89, 0x88, ...le32(OUT_VECTOR), // pop rcx; mov [rax+OUT_VECTOR], rcx
    0x59, 0x48, 0x89, 0x88, ...le32(OUT_ERROR),
    0x59, 0x48, 0x89, 0x88, ...le32(OUT_FRIP),
    0x8b, 0x04, 0x25, ...le32(CUR_ADDR), // mov eax, [CUR]
    0x48, 0x8b, 0x04, 0xc5, ...le32(NEXT_TABLE + 8), // mov rax, [CASE + 8 + rax*8]
    0xff, 0xe0, // jmp rax
  );
  code.set(h, 0x1000);
  return code;
}

/** Lay the cases out as one guest program. */
export function buildImage(cases: readonly GuestCase[]): GuestImage {
  if (cases.length > MAX_CASES) throw new Error(`${cases.length} cases exceed the layout's ${MAX_CASES}`);
  const memory = new Uint8Array(MEM_BYTES);
  const dv = new DataView(memory.buffer);
  // IDT: 64-bit interrupt gates (SDM Vol. 3A Figure 6-8), P=1 DPL=0 type 0xE
  for (let v = 0; v < 256; v++) {
    const handler = STUBS_ADDR + 16 * v;
    const at = IDT_ADDR + 16 * v;
    dv.setUint16(at, handler & 0xffff, true);
    dv.setUint16(at + 2, CODE_SEL, true);
    dv.setUint8(at + 5, 0x8e);
    dv.setUint16(at + 6, handler >>> 16, true);
  }
  memory.set(handlerCode(), STUBS_ADDR);
  let pc = CODE_ADDR;
  const insnAddr: number[] = [];
  const caseAddr: number[] = [];
  for (let i = 0; i < cases.length; i++) {
    const k = cases[i]!;
    caseAddr.push(pc);
    const pro = prologue(i);
    memory.set(pro, pc);
    pc += pro.length;
    insnAddr.push(pc);
    memory.set(k.code, pc);
    if (k.ripDispAt !== undefined) {
      const next = pc + k.insnLen;
      dv.setInt32(pc + k.ripDispAt, (k.ripTarget ?? 0) - next, true);
    }
    const next = BigInt(pc + k.insnLen);
    pc += k.code.length;
    const epi = epilogue(i);
    memory.set(epi, pc);
    pc += epi.length;
    if (k.post) {
      memory.set(k.post, pc);
      pc += k.post.length;
    }
    if (pc >= IN_BASE - 16) throw new Error('case code overflows its region');
    // input record
    const rec = IN_BASE + i * IN_SIZE;
    const regs = [...k.regs];
    const scratch = k.scratch.slice();
    const sdv = new DataView(scratch.buffer);
    for (const f of k.nextFix ?? []) {
      if ('reg' in f) regs[f.reg] = next;
      else if (f.size === 8) sdv.setBigUint64(f.off, next, true);
      else if (f.size === 4) sdv.setUint32(f.off, Number(next), true);
      else sdv.setUint16(f.off, Number(next) & 0xffff, true);
    }
    for (let r = 0; r < 16; r++) dv.setBigUint64(rec + slotOf(r) * 8, BigInt.asUintN(64, regs[r] ?? 0n), true);
    dv.setBigUint64(rec + SLOT_RFLAGS * 8, k.rflags, true);
    memory.set(scratch, scratchAddr(i));
    // output record: poison, and "no fault"
    const o = OUT_BASE + i * OUT_SIZE;
    for (let q = 0; q < OUT_VECTOR / 8; q++) dv.setBigUint64(o + q * 8, POISON, true);
    dv.setBigUint64(o + OUT_VECTOR, NO_FAULT, true);
  }
  caseAddr.push(pc);
  memory[pc] = 0xf4; // hlt
  memory[pc + 1] = 0xeb; // jmp back to the hlt
  memory[pc + 2] = 0xfd;
  for (let i = 0; i <= cases.length; i++) dv.setUint32(NEXT_TABLE + 8 * i, caseAddr[i]!, true);
  return { memory, count: cases.length, insnAddr };
}

/** Where the run resumes after case i (the next case's prologue, or the final HLT). */
export function resumeAddr(memory: Uint8Array, i: number): number {
  return new DataView(memory.buffer, memory.byteOffset).getUint32(NEXT_TABLE + 8 * (i + 1), true);
}
