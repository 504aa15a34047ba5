// Guest-physical memory as the interpreter sees it: KVM-style memory slots (Linux
// Documentation/virt/kvm/api.rst KVM_SET_USER_MEMORY_REGION) over host ArrayBuffers, accessed with
// DataView little-endian loads/stores (DESIGN.md §4). Addresses outside every slot are MMIO.
// Physical addresses are JS numbers below 2^52.

export interface Slot {
  readonly slot: number;
  readonly gpa: number;
  readonly size: number;
  readonly end: number;
  readonly dv: DataView;
  readonly u8: Uint8Array;
  readonly readonly: boolean;
}

export class PhysMemory {
  slots: Slot[] = [];
  /** fast path: the slot at guest-physical 0 (usually all of low RAM) */
  ram: DataView = new DataView(new ArrayBuffer(0));
  ramU8: Uint8Array = new Uint8Array(0);
  ramSize = 0;
  /** bumped on every slot change (the CPU drops its decoded code when it moves) */
  layoutGen = 0;

  setSlot(slot: number, gpa: number, buf: ArrayBuffer, offset: number, size: number, readonly: boolean): void {
    this.layoutGen++;
    this.slots = this.slots.filter((s) => s.slot !== slot);
    if (size > 0) {
      this.slots.push({
        slot, gpa, size, end: gpa + size, readonly,
        dv: new DataView(buf, offset, size), u8: new Uint8Array(buf, offset, size),
      });
    }
    this.slots.sort((a, b) => a.gpa - b.gpa);
    const z = this.slots.find((s) => s.gpa === 0 && !s.readonly);
    this.ram = z ? z.dv : new DataView(new ArrayBuffer(0));
    this.ramU8 = z ? z.u8 : new Uint8Array(0);
    this.ramSize = z ? z.size : 0;
  }

  /** the slot holding [pa, pa+len), or undefined (MMIO) */
  find(pa: number, len: number): Slot | undefined {
    const ss = this.slots;
    for (let i = 0; i < ss.length; i++) {
      const s = ss[i]!;
      if (pa >= s.gpa && pa + len <= s.end) return s;
    }
    return undefined;
  }

  /** read a 32-bit paging entry; unbacked reads as all-ones (src/mmu PhysMem contract) */
  readU32(pa: number): number {
    if (pa + 4 <= this.ramSize) return this.ram.getInt32(pa, true);
    const s = this.find(pa, 4);
    return s ? s.dv.getInt32(pa - s.gpa, true) : -1;
  }

  /** called for writes that bypass the CPU's store path (the MMU's A/D-bit updates), so a page
   *  holding decoded instructions is invalidated (set by the CPU) */
  onWrite: ((pa: number) => void) | undefined;

  writeU32(pa: number, v: number): void {
    this.onWrite?.(pa);
    if (pa + 4 <= this.ramSize) {
      this.ram.setInt32(pa, v, true);
      return;
    }
    const s = this.find(pa, 4);
    if (s && !s.readonly) s.dv.setInt32(pa - s.gpa, v, true);
  }
}
