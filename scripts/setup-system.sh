#!/usr/bin/env bash
# Debian packages the project needs beyond Node: the guest toolchain (gcc/binutils build the
# conformance guests), nasm (benchmark workloads), cpuid (for `--host` dumps) and linux-libc-dev
# (<linux/kvm.h>, checked against our KVM struct offset tables), acpica-tools (iasl checks our ACPI
# tables) and linux-image-amd64 (the stock kernel the Linux-boot tests run). Idempotent; installs only what is
# missing, and does nothing when not root or not on Debian.
set -euo pipefail
need=()
have() { if [[ $1 == /* ]]; then [ -e "$1" ]; else command -v "$1" >/dev/null 2>&1; fi; }
for pair in gcc:gcc ld:binutils objdump:binutils nasm:nasm cpuid:cpuid make:make g++:g++ \
  python3:python3 /usr/include/linux/kvm.h:linux-libc-dev iasl:acpica-tools; do
  have "${pair%%:*}" || need+=("${pair#*:}")
done
# Benchmark peers, only with --bench-peers (`npm run bench -- --install-peers` does the same):
# QEMU TCG, Bochs, SeaBIOS for v86, GNU time
[ "${1:-}" = --bench-peers ] && for pair in qemu-system-x86_64:qemu-system-x86 bochs:bochs /usr/share/bochs/BIOS-bochs-latest:bochsbios \
  /usr/share/vgabios/vgabios.bin:vgabios /usr/share/seabios/bios.bin:seabios /usr/bin/time:time; do
  have "${pair%%:*}" || need+=("${pair#*:}")
done
# Debian's stock kernel: the guest the Linux-boot tests and benchmarks run (issue 8)
compgen -G '/boot/vmlinuz-*' >/dev/null || need+=(linux-image-amd64)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: missing ${need[*]}; install them with your package manager" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
