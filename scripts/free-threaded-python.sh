#!/usr/bin/env bash
# Builds (once) a free-threaded CPython 3.13 ("3.13t", configure
# --disable-gil) from Debian's python3.13 source package and prints the path
# of its interpreter on stdout.
#
# Debian 12 has no python3.13, so a deb-src entry for the next release
# (trixie) is added under /etc/apt/sources.list.d/, for source packages only:
# no binary package ever comes from it. `apt-get source --download-only`
# fetches the package; the build uses its upstream tarball (the .orig), as
# Debian's own patches assume Debian's build layout, not a private prefix.
#
# The interpreter is installed into $REMCTL_CI_CACHE/python3.13t (default
# /var/cache/remctl-ci), outside the checkout; a stamp names the source
# version and configure flags, so a second run reuses it. Needs root (apt).
set -euo pipefail

cache=${REMCTL_CI_CACHE:-/var/cache/remctl-ci}
prefix=$cache/python3.13t
work=$cache/python3.13t-build
list=/etc/apt/sources.list.d/remctl-ci-trixie-src.sources
mirror=${REMCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
configure_flags=(--disable-gil --prefix="$prefix" --with-ensurepip=install)
jobs=${REMCTL_BUILD_JOBS:-2}

script_name=free-threaded-python
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

# check: the cached interpreter runs with the GIL disabled.
check() {
  "$prefix/bin/python3.13t" -c '
import sys, sysconfig
assert sysconfig.get_config_var("Py_GIL_DISABLED") == 1, "not a free-threaded build"
assert not sys._is_gil_enabled(), "the GIL is enabled"
' 2>/dev/null
}

stamp_of() { printf '%s configure %s' "$1" "${configure_flags[*]}"; }

if [ -f "$prefix/.remctl-ci-stamp" ] && check; then
  log "cached: $prefix ($(cat "$prefix/.remctl-ci-stamp"))"
  printf '%s\n' "$prefix/bin/python3.13t"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "needs root (apt-get) to build into $prefix"

# Build dependencies: a compiler, and the headers of the modules the suite
# needs (ctypes: libffi; pip: ssl, zlib; the rest keeps the stdlib whole).
deps=(build-essential dpkg-dev pkg-config libffi-dev libssl-dev zlib1g-dev
  libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev uuid-dev xz-utils)
install_packages "${deps[@]}"

# The source list, then an update of that list alone (the others are kept).
if [ ! -f "$list" ]; then
  log "adding $list (deb-src trixie)"
  cat >"$list" <<EOF
Types: deb-src
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
rm -rf "$work"
mkdir -p "$work/src"
logged apt-update apt-get update -q -o Dir::Etc::sourcelist="$list" \
  -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0
log "apt-get source --download-only python3.13"
(cd "$work/src" && apt-get source -q --download-only python3.13) >"$work/apt-source.log" 2>&1 \
  || {
    tail -n 20 "$work/apt-source.log" >&2
    die "apt-get source python3.13"
  }
shopt -s nullglob
dsc=("$work"/src/python3.13_*.dsc)
orig=("$work"/src/python3.13_*.orig.tar.xz)
[ ${#dsc[@]} -eq 1 ] && [ ${#orig[@]} -eq 1 ] || die "no python3.13 .dsc/.orig in $work/src"
version=$(sed -n 's/^Version: //p' "${dsc[0]}")
log "python3.13 $version: configure ${configure_flags[*]}; make -j$jobs (several minutes)"
tar -xf "${orig[0]}" -C "$work/src"
dirs=("$work"/src/*/)
[ ${#dirs[@]} -eq 1 ] || die "expected one directory unpacked from ${orig[0]}"
srcdir=${dirs[0]%/}
[ -n "$srcdir" ] && [ -x "$srcdir/configure" ] || die "no configure in the unpacked source"

rm -rf "$prefix"
cd "$srcdir"
logged configure nice ./configure "${configure_flags[@]}"
logged make nice make -j"$jobs"
logged install nice make install
check || die "$prefix/bin/python3.13t does not run free-threaded"
stamp_of "$version" >"$prefix/.remctl-ci-stamp"
cd /
rm -rf "$work"
log "built: $prefix ($(cat "$prefix/.remctl-ci-stamp"))"
printf '%s\n' "$prefix/bin/python3.13t"
