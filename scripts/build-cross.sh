#!/usr/bin/env bash
# Builds libremctl.so.1 for the platforms whose wheels are built only on
# GitHub, to prove here that the C library compiles warning-free for them
# and links into a library exporting exactly the public API:
#
#   x86_64-linux-musl, aarch64-linux-musl   (musllinux wheels, Alpine)
#   x86_64-macos, aarch64-macos             (macOS wheels)
#
# zig (PyPI package ziglang, pinned in scripts/wheel-tools.txt) carries the
# C libraries and headers of all four, so no SDK is needed. Each source file
# is compiled with the library's flags (-std=c11 -Wall -Wextra -Werror
# -D_GNU_SOURCE, as vendor/libremctl/CMakeLists.txt), then linked with the
# platform's options from that file. Checked: the file's format and machine
# (readelf, llvm-readobj), and its exported functions (llvm-nm) equal those
# of libremctl.map (on macOS: its exported remctl* functions; zig's Mach-O
# linker cannot hide the others as Apple's linker does on GitHub). Nothing is
# run: these libraries cannot run here.
#
# Output in build/cross/TARGET/; progress on stderr; exits non-zero on the
# first failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
tools=$root/build/wheel-tools
lib=$root/vendor/libremctl
out=$root/build/cross
targets=(x86_64-linux-musl aarch64-linux-musl x86_64-macos aarch64-macos)

log() { printf 'build-cross: %s\n' "$*" >&2; }
die() {
  log "FAILED: $*"
  exit 1
}

for tool in readelf llvm-nm llvm-readobj; do
  command -v "$tool" >/dev/null || die "$tool not found (binutils, llvm)"
done
[ -x "$tools/bin/python" ] || "$python" -m venv "$tools"
"$tools/bin/python" -m pip install --disable-pip-version-check -q \
  -r "$root/scripts/wheel-tools.txt" >&2 || die "cannot install the tools"
zig=("$tools/bin/python" -m ziglang)

# The public API, from the version script.
want=$(sed -n 's/^ *\(remctl[a-z_]*\);$/\1/p' "$lib/libremctl.map" | sort)
[ -n "$want" ] || die "no symbols in libremctl.map"

sources=("$lib"/src/*.c)
for target in "${targets[@]}"; do
  dir=$out/$target
  rm -rf "$dir"
  mkdir -p "$dir"
  objects=()
  for source in "${sources[@]}"; do
    object=$dir/$(basename "$source" .c).o
    nice "${zig[@]}" cc -target "$target" -std=c11 -Wall -Wextra -Werror \
      -D_GNU_SOURCE -O2 -fPIC -fvisibility=default -I"$lib/include" -I"$lib/src" \
      -c "$source" -o "$object" || die "$target: compiling $(basename "$source")"
    objects+=("$object")
  done
  library=$dir/libremctl.so.1
  case $target in
    *-macos)
      # zig's Mach-O linker lacks CMake's -exported_symbol (Apple's ld, on
      # GitHub, has it): here the exports are checked to include the API.
      nice "${zig[@]}" cc -target "$target" -shared -o "$library" "${objects[@]}" \
        -Wl,-install_name,@rpath/libremctl.so.1 || die "$target: linking"
      format=$(llvm-readobj --file-headers "$library" | sed -n 's/^Format: *//p')
      case $target:$format in
        x86_64-*:Mach-O*x86-64* | aarch64-*:Mach-O*arm64*) ;;
        *) die "$target: the library's format is '$format'" ;;
      esac
      got=$(llvm-nm -gU --format=just-symbols "$library" | sed 's/^_//' | grep '^remctl' | sort)
      ;;
    *-linux-musl)
      nice "${zig[@]}" cc -target "$target" -shared -o "$library" "${objects[@]}" \
        -Wl,-soname,libremctl.so.1 -Wl,--version-script="$lib/libremctl.map" \
        -Wl,--no-undefined -Wl,-z,relro,-z,now || die "$target: linking"
      format=$(readelf -h "$library" | sed -n 's/^ *Machine: *//p')
      case $target:$format in
        x86_64-*:*X86-64* | aarch64-*:*AArch64*) ;;
        *) die "$target: the library's machine is '$format'" ;;
      esac
      got=$(llvm-nm -D --defined-only --format=just-symbols "$library" | sed "s/@.*//" | sort)
      ;;
  esac
  if [ "$got" != "$want" ]; then
    diff <(echo "$want") <(echo "$got") >&2 || true
    die "$target: exported symbols differ from libremctl.map (< map, > library)"
  fi
  log "$target: $format, $(stat -c %s "$library") bytes, $(echo "$got" | wc -l) exported functions, no warning"
done
