// The register bit tables (SDM Vol. 3A ch. 2, Vol. 1 ch. 13, Vol. 3A ch. 17), re-exported.

export * from './bits.ts';
export * from './cr0.ts';
export * from './cr3.ts';
export * from './cr4.ts';
export * from './efer.ts';
export * from './xcr0.ts';
export * from './xss.ts';
export * from './rflags.ts';
export * from './dr6.ts';
export * from './dr7.ts';
