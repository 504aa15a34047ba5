// Named CPU models: the shape of a model data file. A model is a list of features plus identity
// fields; every choice that is not plain hardware carries a reason (DESIGN.md §3.4). Feature names are
// the feature database's (src/arch/x86/cpuid/). Identity fields: CPUID.1:EAX signature (Intel SDM
// Vol. 2A Figure 3-6), brand string 0x80000002–4, MAXPHYADDR 0x80000008:EAX[7:0].

export interface CpuModel {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly description: string;
  /** 'host' = keep the host's vendor string and signature (vendor-neutral ISA levels) */
  readonly vendor: 'intel' | 'amd' | 'host';
  readonly signature?: { readonly family: number; readonly model: number; readonly stepping: number };
  readonly brand?: string;
  /** MAXPHYADDR the model asks for (normalization caps it to what the supported set has) */
  readonly physAddrBits?: number;
  /** every feature the model offers */
  readonly features: readonly string[];
  /** features the real CPU has that the model leaves out, each with why */
  readonly removed?: Readonly<Record<string, string>>;
  /** features the model adds beyond the real CPU (VMM-synthesized), each with why */
  readonly added?: Readonly<Record<string, string>>;
  /** where the feature list came from */
  readonly derivedFrom?: string;
}
