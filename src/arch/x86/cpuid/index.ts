// Public surface of the CPUID vocabulary: registers, the kvm_cpuid_entry2 table, feature flags,
// non-flag fields and vendors (Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E).

export { CPUID_REGS, formatBitLocation } from './types.ts';
export type { BitLocation, CpuidReg, FeatureDef, FeatureKind, Vendor, VendorScope } from './types.ts';
export { CpuidTable, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from './table.ts';
export type { CpuidEntry, CpuidRegs } from './table.ts';
export {
  AMD_LEAF1_EDX_MIRRORS,
  FEATURES,
  Feature,
  dependantClosure,
  dependencyClosure,
  describeFeature,
  directDependants,
  directDependencies,
  featureByName,
  featureRegisters,
  featuresIn,
  hasFeature,
  presentFeatures,
} from './features.ts';
export type { FeatureName, NamedFeature } from './features.ts';
export {
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
  maxBasicLeaf,
  maxExtendedLeaf,
  maxPhysAddr,
  readField,
  topologyLevels,
  virtAddrBits,
  xsaveComponent,
  xsaveSizes,
  xsaveSupportedXcr0,
  xsaveSupportedXss,
} from './fields.ts';
export type {
  CacheDescriptor,
  CacheType,
  FamilyModelStepping,
  FieldDef,
  FieldName,
  Leaf1Ebx,
  TopologyLevel,
  TopologyLevelType,
  XsaveComponent,
  XsaveSizes,
} from './fields.ts';
export { CANONICAL_VENDOR_STRING, VENDOR_STRINGS, isAmdLike, vendorOf } from './vendor.ts';
