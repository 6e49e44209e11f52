"""Worker: a loop over Debian's python3-pyremctl, one host after another.

Run as ``/usr/bin/python3 -I fanout_debian_loop.py PARAMS_JSON`` (isolated
mode, so that our package cannot be imported instead); refuses to run unless
the module came from /usr/lib/python3/dist-packages.  Each host gets
``remctl.remctl(host, port, None, command)``, the way a script would loop.
Prints one line of JSON like fanout_run_many.py.
"""

import json
import os
import resource
import sys
import time

DIST_PACKAGES = "/usr/lib/python3/dist-packages"


def status_field(name):
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds():
    """User and system CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    params = json.loads(sys.argv[1])
    sys.path.insert(0, DIST_PACKAGES)
    import remctl

    module = os.path.realpath(remctl.__file__)
    if os.path.dirname(module) != DIST_PACKAGES:
        print(json.dumps({"ok": False, "error": f"imported {module}"}))
        return 1
    command = [word.encode() for word in params["command"]]
    cpu_before = cpu_seconds()
    started = time.monotonic()
    good = 0
    failures = []
    for host in params["hosts"]:
        try:
            result = remctl.remctl(host, params["port"], None, command)
        except remctl.RemctlProtocolError as exc:
            failures.append(str(exc))
            continue
        if result.status == 0 and result.stdout == f"hello from {host}\n".encode():
            good += 1
    wall = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    report = {
        "ok": good == len(params["hosts"]),
        "wall": wall,
        "cpu": cpu,
        "hosts": len(params["hosts"]),
        "good": good,
        "hwm_kib": status_field("VmHWM"),
        "threads": status_field("Threads"),
        "failures": failures[:3],
    }
    print(json.dumps(report))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
