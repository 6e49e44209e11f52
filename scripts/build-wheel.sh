#!/usr/bin/env bash
# Builds the release artefacts into dist/, without Docker:
#
#   dist/remctl-VERSION-py3-none-manylinux2014_ARCH.manylinux_2_17_ARCH.whl
#   dist/remctl-VERSION.tar.gz
#
# The C library is compiled by `zig cc` (PyPI package ziglang) for the
# target ARCH-linux-gnu.2.17, i.e. against glibc 2.17 as in manylinux2014,
# with the library's own flags (-Wall -Wextra, and -Werror through the CMake
# option REMCTL_WERROR, off by default in the sdist). The sdist is built
# first and the wheel is built from it. Then the wheel goes through
# `auditwheel show` and `auditwheel repair --plat manylinux_2_17_ARCH`
# (nothing may be grafted in), and is checked: size under 200 KiB, NEEDED
# only C-library-level libraries, no glibc symbol version newer than 2.17,
# no test hooks (`strings` finds no REMCTL_TEST_).
# Last, the sdist is installed with pip into a fresh virtualenv using only
# CMake and the host's own C compiler, and imported.
#
# Progress goes to stderr, tool output to build/release-ARCH/*.log; the only line
# on stdout is the path of the wheel, so callers can write
#     wheel=$(bash scripts/build-wheel.sh)
#
# Environment:
#   PYTHON                   interpreter for the tool and check venvs
#                            (default: python3)
#   REMCTL_WHEEL_ARCH        the target ARCH (default: this machine's); another
#                            one (x86_64 <-> aarch64) is cross-compiled by zig,
#                            tagged through _PYTHON_HOST_PLATFORM, checked the
#                            same way, and built without the sdist check
#   REMCTL_SKIP_SDIST_CHECK  set to 1 to skip the sdist install check
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
arch=${REMCTL_WHEEL_ARCH:-$(uname -m)}
glibc_max=2.17
plat=manylinux_2_17_$arch
tools=$root/build/wheel-tools
work=$root/build/release-$arch
cross=()
if [ "$arch" != "$(uname -m)" ]; then
  # scikit-build-core names the wheel's platform from this variable.
  cross=(_PYTHON_HOST_PLATFORM="linux-$arch")
  REMCTL_SKIP_SDIST_CHECK=1
fi
dist=$root/dist
max_bytes=$((200 * 1024))
# What the library may link: the C library and its traditional split-off parts.
allowed_needed=" libc.so.6 libpthread.so.0 libdl.so.2 libm.so.6 librt.so.1 "

script_name=build-wheel
# shellcheck source=scripts/lib/common.sh
. "$root/scripts/lib/common.sh"

# readelf and strings read every architecture's ELF files.
for tool in readelf strings; do
  command -v "$tool" >/dev/null || die "$tool not found (install binutils)"
done

rm -rf "$work"
mkdir -p "$work/bin" "$dist"
rm -f "$dist"/remctl-*"_$arch.whl"
[ ${#cross[@]} -gt 0 ] || rm -f "$dist"/remctl-*.tar.gz

# 1. Tools, in their own venv, pinned in scripts/wheel-tools.txt.
log "tools: $tools"
[ -x "$tools/bin/python" ] || logged tools-venv "$python" -m venv "$tools"
logged tools-install "$tools/bin/python" -m pip install --disable-pip-version-check \
  -r "$root/scripts/wheel-tools.txt"

# 2. A compiler driver CMake can call: zig cc for glibc 2.17.
cat >"$work/bin/cc" <<EOF
#!/bin/sh
exec "$tools/bin/python" -m ziglang cc -target $arch-linux-gnu.$glibc_max "\$@"
EOF
chmod +x "$work/bin/cc"

# 3. sdist, then the wheel from the sdist, compiled with zig.
log "building sdist and wheel (zig cc -target $arch-linux-gnu.$glibc_max)"
logged build env -u CFLAGS -u LDFLAGS -u CMAKE_ARGS -u SKBUILD_BUILD_DIR \
  -u SKBUILD_CMAKE_ARGS CC="$work/bin/cc" "${cross[@]}" \
  "$tools/bin/python" -m build --outdir "$work/raw" -Cbuild.verbose=true \
  -Ccmake.define.REMCTL_WERROR=ON "$root"
grep -q "C compiler identification is Clang" "$work/build.log" \
  || die "the wheel was not compiled by zig cc (see $work/build.log)"
grep -q -- "-Wall -Wextra -Werror" "$work/build.log" \
  || die "the library was not compiled with -Wall -Wextra -Werror"
shopt -s nullglob
raw=("$work"/raw/remctl-*.whl)
sdist=("$work"/raw/remctl-*.tar.gz)
[ ${#raw[@]} -eq 1 ] || die "expected one wheel in $work/raw"
[ ${#sdist[@]} -eq 1 ] || die "expected one sdist in $work/raw"

# 4. auditwheel: show, then repair to the manylinux_2_17 tag.
logged auditwheel-show "$tools/bin/auditwheel" show "${raw[0]}"
sed 's/^/  | /' "$work/auditwheel-show.log" >&2
grep -q "platform tag: \"$plat\"" "$work/auditwheel-show.log" \
  || die "auditwheel does not find the wheel $plat compatible"
# auditwheel offers --plat choices of this machine's architecture only; for
# another it is "auto" (the tag its analysis found), checked by name below.
repair_plat=$plat
[ ${#cross[@]} -eq 0 ] || repair_plat=auto
logged auditwheel-repair env PATH="$tools/bin:$PATH" "$tools/bin/auditwheel" \
  repair --plat "$repair_plat" -w "$work/repaired" "${raw[0]}"
repaired=("$work"/repaired/remctl-*.whl)
[ ${#repaired[@]} -eq 1 ] || die "auditwheel repair produced no wheel"
wheel=${repaired[0]}
case $(basename "$wheel") in
  remctl-*-py3-none-*"$plat"*.whl) ;;
  *) die "unexpected wheel name $(basename "$wheel")" ;;
esac
if grep -qi "graft" "$work/auditwheel-repair.log"; then
  die "auditwheel grafted libraries into the wheel"
fi

# 5. The wheel's own checks.
"$tools/bin/python" - "$wheel" "$work/unpacked" <<'EOF' || die "wheel contents"
import sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    names = archive.namelist()
    libraries = [n for n in names if ".so" in n.rsplit("/", 1)[-1]]
    if libraries != ["remctl/libremctl.so.1"]:
        sys.exit(f"shared libraries in the wheel: {libraries}")
    if any(".libs/" in n for n in names):
        sys.exit("the wheel has grafted libraries")
    archive.extractall(target)
EOF
library=$work/unpacked/remctl/libremctl.so.1
size=$(stat -c %s "$wheel")
[ "$size" -lt "$max_bytes" ] || die "wheel is $size bytes, limit $max_bytes"
needed=$(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
for lib in $needed; do
  case $allowed_needed in
    *" $lib "*) ;;
    *) die "libremctl.so.1 needs $lib (allowed:$allowed_needed)" ;;
  esac
done
# A release build: no test hooks (CMake REMCTL_TEST_HOOKS, tests/conftest.py).
library_strings=$(strings -a "$library")
if grep -q REMCTL_TEST_ <<<"$library_strings"; then
  die "libremctl.so.1 contains test hooks: $(grep REMCTL_TEST_ <<<"$library_strings" | tr '\n' ' ')"
fi
grep -qx "libremctl of the remctl Python package" <<<"$library_strings" \
  || die "libremctl.so.1 does not say it is a release build of ours"
soname=$(readelf -d "$library" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libremctl.so.1 ] || die "soname is '$soname'"
# readelf reads every architecture's ELF files (objdump only the host's).
machine=$(readelf -h "$library" | sed -n 's/^ *Machine: *//p')
case $arch:$machine in
  x86_64:*X86-64* | aarch64:*AArch64*) ;;
  *) die "libremctl.so.1 is for '$machine', not $arch" ;;
esac
newest=$(readelf -W --dyn-syms "$library" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' \
  | sort -u -V | tail -n 1)
[ "$(printf '%s\n%s\n' "$newest" "$glibc_max" | sort -V | tail -n 1)" = "$glibc_max" ] \
  || die "libremctl.so.1 uses GLIBC_$newest, newer than $glibc_max"

cp "$wheel" "$dist/"
[ ${#cross[@]} -gt 0 ] || cp "${sdist[0]}" "$dist/"
wheel=$dist/$(basename "$wheel")
log "wheel:   $wheel ($size bytes, limit $max_bytes)"
[ ${#cross[@]} -gt 0 ] || log "sdist:   $dist/$(basename "${sdist[0]}")"
log "library: $machine, $(stat -c %s "$library") bytes; NEEDED: $needed; newest glibc symbol: GLIBC_$newest; no REMCTL_TEST_ string"
log "auditwheel: $(grep -o 'New filename tags: .*' "$work/auditwheel-repair.log"), nothing grafted"

# 6. The sdist builds and works with only CMake and the host's C compiler.
if [ "${REMCTL_SKIP_SDIST_CHECK:-0}" != 1 ]; then
  log "installing the sdist into a fresh venv with the host's compiler"
  logged sdist-venv "$python" -m venv "$work/sdist-venv"
  logged sdist-install env -u CC -u CFLAGS -u LDFLAGS -u CMAKE_ARGS \
    -u SKBUILD_BUILD_DIR -u SKBUILD_CMAKE_ARGS \
    "$work/sdist-venv/bin/python" -m pip install --disable-pip-version-check \
    --no-cache-dir -v "$dist/$(basename "${sdist[0]}")"
  compiler=$(grep -o 'C compiler identification is .*' "$work/sdist-install.log" | head -n 1)
  logged sdist-import env -u REMCTL_LIBRARY -u PYTHONPATH -C "$work" \
    "$work/sdist-venv/bin/python" -c '
import sys, remctl, remctl._library as lib
path = lib.library_path()
assert path.startswith(sys.prefix), (path, sys.prefix)
remctl.Remctl().close()
print(remctl.__version__, path)
'
  log "sdist ok: $compiler; $(cat "$work/sdist-import.log")"
fi

printf '%s\n' "$wheel"
