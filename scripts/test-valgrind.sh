#!/usr/bin/env bash
# valgrind memcheck on the C-level tests of libremctl; fails on any memcheck
# error and on any definite leak:
#   tests/c/client_standin.c  scripted servers over a socketpair, with the
#                             GSS-API stand-in of fuzz/ (exact messages)
#   fuzz/fuzz_replay          the fuzz harness replaying fuzz/corpus/
#   tests/c/client_real.c     the whole public API against a real remctld and
#                             KDC (remctl.testing), with MIT Kerberos
# "Possibly lost" and "still reachable" blocks are not errors: MIT Kerberos
# keeps caches for the life of the process.
#
# Environment: VALGRIND_BUILD_DIR (default build/valgrind in the checkout), CC,
# PYTHON (default python3) to start the realm with remctl.testing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VALGRIND_BUILD_DIR:-$root/build/valgrind}
cc=${CC:-gcc}
python=${PYTHON:-python3}

if ! command -v valgrind >/dev/null; then
  echo "test-valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
  exit 1
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="$cc" \
  -DREMCTL_WERROR=ON >/dev/null
cmake --build "$build" -j 2 >/dev/null
library=$(find "$build" -name libremctl.so.1 -type f | head -n 1)
libdir=$(dirname "$library")
FUZZ_BUILD_DIR="$build/fuzz" FUZZ_NO_LIBFUZZER=1 "$root/fuzz/build.sh" >/dev/null
standin="$build/fuzz/libgss_standin.so"
for program in client_standin client_real; do
  "$cc" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
    -I"$root/vendor/libremctl/include" -o "$build/$program" \
    "$root/tests/c/$program.c" "$library" -Wl,-rpath,"$libdir" -ldl -lpthread
done

memcheck=(valgrind -q --tool=memcheck --leak-check=full --show-leak-kinds=definite
          --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30)

echo "== client_standin (GSS-API stand-in)"
REMCTL_GSSAPI_LIBRARY="$standin" "${memcheck[@]}" "$build/client_standin" | tail -n 1
echo "== fuzz_replay on fuzz/corpus (GSS-API stand-in)"
REMCTL_GSSAPI_LIBRARY="$standin" "${memcheck[@]}" "$build/fuzz/fuzz_replay" "$root/fuzz/corpus"
echo "== client_real (MIT Kerberos, real remctld)"
REMCTL_LIBRARY="$library" PYTHONPATH="$root/python${PYTHONPATH:+:$PYTHONPATH}" "$python" - \
  "$root" "$build/client_real" "${memcheck[@]}" <<'PYTHON'
import subprocess, sys
from remctl.testing import RemctlTestEnvironment

root, program, memcheck = sys.argv[1], sys.argv[2], sys.argv[3:]
with RemctlTestEnvironment(f"{root}/tests/server/remctl.conf.in",
                           f"{root}/tests/server/scripts") as env:
    done = subprocess.run(memcheck + [program, env.host, str(env.port), env.principal],
                          env=env.subprocess_env(), check=False)
sys.exit(done.returncode)
PYTHON
echo "test-valgrind.sh: no memcheck errors, no definite leaks"
