// The Linux boot benchmark's milestones in a guest's serial output (COM1, console=ttyS0), noted as the
// text arrives: the first kernel log line (printk's "[    0.000000] " timestamp prefix, or the
// "Linux version" banner when printk.time is off — kernel/printk/printk.c), the initramfs's
// TSVMM-INIT-OK line (conformance/linux/init.c), and the kernel's "reboot: Power down" line
// (kernel/reboot.c, printed just before the ACPI S5 write that ends the run).

/** the first kernel log line: a printk timestamp or the banner */
export const KERNEL_LINE_RE = /\[\s*\d+\.\d{6}\] |Linux version \d/;
export const INIT_OK = 'TSVMM-INIT-OK';
export const POWER_DOWN = 'reboot: Power down';
const BANNER_RE = /Linux version ([^\s]+)[^\r\n]*/;

/** The longest text a milestone match can span, so a match split across reads is still found. */
const OVERLAP = 64;

/**
 * Feeds on serial text chunk by chunk (`push(chunk, ms)`, `ms` = time since the process started) and
 * notes the time of the chunk that completed each milestone.
 */
export class BootMarks {
  private text = '';
  firstKernelMs: number | undefined;
  initOkMs: number | undefined;
  powerDownMs: number | undefined;

  push(chunk: string, ms: number): void {
    const from = Math.max(0, this.text.length - OVERLAP);
    this.text += chunk;
    const tail = this.text.slice(from);
    if (this.firstKernelMs === undefined && KERNEL_LINE_RE.test(tail)) this.firstKernelMs = ms;
    if (this.initOkMs === undefined && tail.includes(INIT_OK)) this.initOkMs = ms;
    if (this.powerDownMs === undefined && tail.includes(POWER_DOWN)) this.powerDownMs = ms;
  }

  /** everything seen so far */
  get output(): string {
    return this.text;
  }
}

/** The kernel's "Linux version …" banner line in `text` (release and the whole line), if printed. */
export function kernelBanner(text: string): { release: string; line: string } | undefined {
  const m = BANNER_RE.exec(text);
  return m ? { release: m[1]!, line: m[0]!.trim() } : undefined;
}

/** terminal control sequences (CSI … final byte, or ESC + one letter), e.g. SeaBIOS' screen clearing */
const ESCAPE_RE = new RegExp(`${String.fromCharCode(27)}(\\[[0-9;?]*[A-Za-z]|[A-Za-z])`, 'g');

/** The last `n` non-empty lines of `text` without CRs and terminal escapes (for failure reports). */
export function lastLines(text: string, n: number): string[] {
  return text
    .replace(ESCAPE_RE, '')
    .replace(/\r/g, '')
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0)
    .slice(-n);
}

/** The CLI's closing line on stderr: "tsvmm run: powered off after 113.52 s wall time (…)". */
export function tsvmmRunSummary(stderr: string): { outcome: string; wallMs: number } | undefined {
  const m = /tsvmm run: (.+?) after (\d+(?:\.\d+)?) s wall time/.exec(stderr);
  return m ? { outcome: m[1]!, wallMs: Number(m[2]) * 1000 } : undefined;
}
