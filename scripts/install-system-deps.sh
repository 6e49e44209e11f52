#!/usr/bin/env bash
# Installs the Debian packages the tests, the demo and the benchmarks need:
# a KDC, remctld, a C toolchain, the clients we cross-check against, and Perl's
# Net::Remctl::Backend (remctl.backend is compared with it).
set -euo pipefail

packages=(
  krb5-kdc krb5-admin-server krb5-user libkrb5-dev
  remctl-server remctl-client libremctl1 python3-pyremctl
  libnet-remctl-perl
  libgssapi3-heimdal
  cmake gcc make python3-venv clang libclang-rt-14-dev valgrind
  # The platform stages (scripts/test-platforms.sh, build-cross.sh): qemu and
  # debootstrap for the arm64 root, PyPy, llvm's tools for Mach-O files, and
  # what building CPython needs (scripts/free-threaded-python.sh), installed
  # here so that those scripts, run in parallel, never wait on apt's lock.
  qemu-user-static debootstrap pypy3 pypy3-venv llvm
  build-essential dpkg-dev pkg-config libffi-dev libssl-dev zlib1g-dev
  libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev uuid-dev xz-utils
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
    || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
