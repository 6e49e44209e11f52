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
