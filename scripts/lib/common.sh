# shellcheck shell=bash
# Shell functions shared by the build and provisioning scripts; sourced
# (bash). The sourcing script sets script_name first, and work (a directory
# for logs) before it calls logged.

# log MESSAGE...: a progress line on standard error, named after the script.
log() { printf '%s: %s\n' "${script_name:?}" "$*" >&2; }

# die MESSAGE...: says what failed and stops the script.
die() {
  log "FAILED: $*"
  exit 1
}

# logged NAME COMMAND...: runs COMMAND with its output in $work/NAME.log; on
# failure shows the end of that log and stops.
logged() {
  local name=$1
  shift
  if ! "$@" >"${work:?}/$name.log" 2>&1; then
    tail -n 60 "$work/$name.log" >&2
    die "$name (full log: $work/$name.log)"
  fi
}

# missing_packages PACKAGE...: prints those of the Debian packages that are
# not installed, one per line.
missing_packages() {
  local p
  for p in "$@"; do
    # shellcheck disable=SC2016 # dpkg-query expands ${Status}, not the shell
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || printf '%s\n' "$p"
  done
}

# install_packages PACKAGE...: installs those not installed yet, with apt.
install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  [ ${#missing[@]} -gt 0 ] || return 0
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2 || die "apt-get install ${missing[*]}"
}
