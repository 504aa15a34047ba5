// The interpreter's architectural register state (Intel SDM Vol. 1 §3.4 "Basic Program Execution
// Registers", Vol. 3A §2.1-2.5 system registers, §3.4.3 segment registers and their hidden parts).
//
// GPRs live in one Int32Array as lo/hi 32-bit halves (DESIGN.md §4):
//   r[2n] = bits 31:0 of GPR n (RAX=0 RCX=1 RDX=2 RBX=3 RSP=4 RBP=5 RSI=6 RDI=7 R8..R15),
//   r[2n+1] = bits 63:32;  r[32], r[33] = RIP lo/hi.
// Segment registers are indexed ES=0 CS=1 SS=2 DS=3 FS=4 GS=5 LDTR=6 TR=7; each has a selector and
// the hidden descriptor cache (base lo/hi, byte-granular limit, attributes packed as in the VMX
// access-rights field: type 3:0, S 4, DPL 6:5, P 7, AVL 12, L 13, D/B 14, G 15, unusable 16).

export const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;
export const RIP_LO = 32, RIP_HI = 33;

export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5, LDTR = 6, TR = 7;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'];

// attribute bits
export const A_TYPE = 0xf, A_S = 1 << 4, A_DPL_SHIFT = 5, A_P = 1 << 7, A_AVL = 1 << 12, A_L = 1 << 13;
export const A_DB = 1 << 14, A_G = 1 << 15, A_UNUSABLE = 1 << 16;

// RFLAGS bits (SDM Vol. 1 Figure 3-8)
export const CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400;
export const OF = 0x800, IOPL = 0x3000, NT = 0x4000, RF = 0x10000, VM = 0x20000, AC = 0x40000;
export const VIF = 0x80000, VIP = 0x100000, ID = 0x200000;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

// CR0 / CR4 / EFER bits used by the executor (SDM Vol. 3A §2.5, §2.2.1)
export const CR0_PE = 1, CR0_MP = 2, CR0_EM = 4, CR0_TS = 8, CR0_ET = 0x10, CR0_NE = 0x20;
export const CR0_WP = 0x10000, CR0_AM = 0x40000, CR0_PG = 0x80000000 | 0;
export const CR4_VME = 1, CR4_PVI = 2, CR4_TSD = 4, CR4_DE = 8, CR4_PSE = 0x10, CR4_PAE = 0x20;
export const CR4_PGE = 0x80, CR4_OSFXSR = 0x200, CR4_UMIP = 0x800, CR4_LA57 = 0x1000;
export const CR4_FSGSBASE = 0x10000, CR4_PCIDE = 0x20000, CR4_OSXSAVE = 0x40000, CR4_SMEP = 0x100000;
export const CR4_SMAP = 0x200000, CR4_PKE = 0x400000;
export const EFER_SCE = 1, EFER_LME = 0x100, EFER_LMA = 0x400, EFER_NXE = 0x800;

// MSR indices the executor handles directly (SDM Vol. 4 Table 2-2)
export const MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176, MSR_PAT = 0x277, MSR_EFER = 0xc0000080, MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082, MSR_CSTAR = 0xc0000083, MSR_FMASK = 0xc0000084;
export const MSR_FS_BASE = 0xc0000100, MSR_GS_BASE = 0xc0000101, MSR_KERNEL_GS_BASE = 0xc0000102;
export const MSR_TSC_AUX = 0xc0000103, MSR_XSS = 0xda0, MSR_MISC_ENABLE = 0x1a0, MSR_TSC_DEADLINE = 0x6e0;

/** Hot MSRs held as int32 lo/hi pairs in Cpu.msrHot (slot = 2 × this index; the hi word at +1),
 *  not in Cpu.msrs: the fast system-call and SWAPGS/RDTSCP paths read them without BigInt.
 *  msrHotSlot maps an MSR index to its slot, -1 for MSRs kept in the map. */
export const HM_STAR = 0, HM_LSTAR = 2, HM_CSTAR = 4, HM_FMASK = 6, HM_SYSENTER_CS = 8, HM_SYSENTER_ESP = 10;
export const HM_SYSENTER_EIP = 12, HM_KERNEL_GS_BASE = 14, HM_TSC_AUX = 16, HM_SLOTS = 18;
export function msrHotSlot(i: number): number {
  switch (i) {
    case MSR_STAR: return HM_STAR;
    case MSR_LSTAR: return HM_LSTAR;
    case MSR_CSTAR: return HM_CSTAR;
    case MSR_FMASK: return HM_FMASK;
    case MSR_SYSENTER_CS: return HM_SYSENTER_CS;
    case MSR_SYSENTER_ESP: return HM_SYSENTER_ESP;
    case MSR_SYSENTER_EIP: return HM_SYSENTER_EIP;
    case MSR_KERNEL_GS_BASE: return HM_KERNEL_GS_BASE;
    case MSR_TSC_AUX: return HM_TSC_AUX;
    default: return -1;
  }
}
