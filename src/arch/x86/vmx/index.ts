// VMX capability MSR layouts and control bit names (SDM Vol. 3C ch. 25, Vol. 3D Appendix A).

export * from './controls.ts';
export * from './msrs.ts';
