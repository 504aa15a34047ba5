#!/usr/bin/env bash
# Debian packages the project needs beyond Node: the guest toolchain (gcc/binutils build the
# conformance guests), nasm (benchmark workloads) and cpuid (for `--host` dumps). Idempotent;
# skips what is installed, and does nothing when not root or not on Debian.
set -euo pipefail
need=()
for pair in gcc:gcc ld:binutils nasm:nasm cpuid:cpuid make:make g++:g++ python3:python3; do
  cmd=${pair%%:*} pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: missing ${need[*]}; install them with your package manager" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
