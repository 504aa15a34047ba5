// npm run linux-initramfs: build the static /init (init.c) and write build/initramfs.cpio.gz
// (initramfs.mjs has the format). Usage: node conformance/linux/build-initramfs.mjs [output]
import { relative } from 'node:path';
import { buildInitramfs } from './initramfs.mjs';

try {
  const r = buildInitramfs(process.argv[2] ? { output: process.argv[2] } : {});
  console.log(
    `wrote ${relative(process.cwd(), r.output)}: ${r.bytes} bytes gzip (${r.cpioBytes} cpio, /init ${r.initBytes} bytes), sha256 ${r.sha256}`,
  );
} catch (e) {
  console.error(`linux-initramfs: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
