// Hand-encoded real-mode instructions for small interpreter tests that need no assembler (SDM Vol. 2:
// in 16-bit code 66h selects the 32-bit operand size, so `66 B8+r imm32` is MOV r32, imm32).

export const HLT = [0xf4];
export const RDTSC = [0x0f, 0x31];
export const WRMSR = [0x0f, 0x30];
export const RDMSR = [0x0f, 0x32];

const imm32 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
/** mov ecx, imm32 */
export const movEcx = (n: number): number[] => [0x66, 0xb9, ...imm32(n)];
/** mov eax, imm32 */
export const movEax = (n: number): number[] => [0x66, 0xb8, ...imm32(n)];
/** mov edx, imm32 */
export const movEdx = (n: number): number[] => [0x66, 0xba, ...imm32(n)];
