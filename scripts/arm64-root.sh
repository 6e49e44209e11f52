#!/usr/bin/env bash
# Makes (once) an arm64 Debian 12 root that runs here under qemu user-mode
# emulation, and registers qemu-aarch64 with binfmt_misc so that arm64
# programs run transparently. Prints the root's path on stdout.
#
# The root is cached outside the checkout, in $REMCTL_CI_CACHE/arm64-root
# (default /var/cache/remctl-ci); a complete root is marked by a stamp file
# naming what it was made with, so a second run reuses it and a changed
# package list makes it anew. Needs root (debootstrap, binfmt_misc).
#
# The root holds only what the arm64 client side needs: python3, its venv
# module and MIT's GSS-API library, and Debian's remctl client, libremctl1
# and old Python module, which tests/test_abi_compat.py compares this
# package with, and Heimdal's GSS-API library (tests/test_fanout_ccache.py). The KDC, remctld and kinit are not in it: the host's x86_64
# ones serve the emulated run (see scripts/test-platforms.sh).
set -euo pipefail

cache=${REMCTL_CI_CACHE:-/var/cache/remctl-ci}
root=$cache/arm64-root
suite=bookworm
mirror=${REMCTL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
include=python3,python3-venv,libgssapi-krb5-2,ca-certificates
stamp="debootstrap --arch=arm64 --variant=minbase --include=$include $suite"
# Installed with the root's apt, after debootstrap (also into a cached root).
extras=(remctl-client libremctl1 python3-pyremctl libgssapi3-heimdal)

script_name=arm64-root
# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, binfmt_misc)"

# Debian's qemu-user-static and debootstrap.
install_packages qemu-user-static debootstrap

# binfmt_misc: mounted, and qemu-aarch64 registered from Debian's own entry.
# The F flag (in that entry) makes the kernel open the interpreter at
# registration, so it also works for programs whose root lacks qemu.
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then
  mount -t binfmt_misc binfmt_misc "$binfmt" || die "cannot mount $binfmt"
fi
if [ ! -e "$binfmt/qemu-aarch64" ]; then
  entry=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$entry" ] || die "$entry missing (qemu-user-static)"
  # Written as root by the shell, not by sh -c, so the line is exact.
  cat "$entry" >"$binfmt/register" || die "cannot register qemu-aarch64"
fi
grep -q '^enabled' "$binfmt/qemu-aarch64" || die "qemu-aarch64 binfmt entry is disabled"

if [ -f "$root/.remctl-ci-stamp" ] && [ "$(cat "$root/.remctl-ci-stamp")" = "$stamp" ]; then
  log "cached: $root"
else
  log "making $root ($stamp); this takes several minutes"
  rm -rf "$root"
  mkdir -p "$cache"
  nice debootstrap --arch=arm64 --variant=minbase --include="$include" \
    "$suite" "$root" "$mirror" >"$cache/arm64-root.log" 2>&1 \
    || {
      tail -n 40 "$cache/arm64-root.log" >&2
      die "debootstrap (full log: $cache/arm64-root.log)"
    }
  # No package caches kept: they are not needed to run.
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*_Packages
  printf '%s' "$stamp" >"$root/.remctl-ci-stamp"
fi

# The extra packages, with the root's own apt (the root is entered only here).
missing=()
for p in "${extras[@]}"; do
  # shellcheck disable=SC2016 # dpkg-query expands ${Status}, not the shell
  chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
    | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} into the root"
  mkdir -p "$root/tmp" && chmod 1777 "$root/tmp" # apt's temporary files
  {
    chroot "$root" apt-get update -q \
      && DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q \
        --no-install-recommends "${missing[@]}" \
      && chroot "$root" apt-get clean
  } >"$cache/arm64-root-extras.log" 2>&1 || {
    tail -n 30 "$cache/arm64-root-extras.log" >&2
    die "apt-get install ${missing[*]} in the root (log: $cache/arm64-root-extras.log)"
  }
  rm -rf "$root/var/lib/apt/lists/"*_Packages
fi

# The root is never entered with chroot: its programs run on the host's
# filesystem, qemu looking up each path in the root first. Its empty
# mount points would hide the host's /proc (listing it would find no
# process), /sys and /tmp, so they are removed.
for dir in proc sys tmp; do
  [ -d "$root/$dir" ] && rmdir "$root/$dir" 2>/dev/null
  [ ! -e "$root/$dir" ] || die "$root/$dir is not an empty directory"
done
# Likewise its /dev/ptmx node, which opens a pseudo-terminal of the devpts
# mounted beside it, and its empty /dev/pts: the host's serve instead.
rm -f "$root/dev/ptmx"
[ -d "$root/dev/pts" ] && rmdir "$root/dev/pts" 2>/dev/null
[ ! -e "$root/dev/pts" ] || die "$root/dev/pts is not an empty directory"

# Programs of the root read /etc/ssl/certs from the root (qemu looks there
# first): give them the host's CA bundle, so that pip in the root trusts
# what the host's pip trusts, a local proxy's CA included.
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi

# The root really is arm64 and runs here.
machine=$(QEMU_LD_PREFIX="$root" "$root/usr/bin/python3" -c 'import platform; print(platform.machine())' 2>&1) \
  || die "the arm64 python3 does not run: $machine"
[ "$machine" = aarch64 ] || die "the root's python3 reports machine '$machine'"
printf '%s\n' "$root"
