"""The README's backend example is real: its code, run, prints what is shown.

The first ``python`` block holding ``Backend(command="group"`` is written to
``group-backend``; each ``$ COMMAND`` line of the ``console`` block after it
runs in a shell (standard error merged into standard output), and its
output must be the lines shown under it.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def blocks(text: str, language: str) -> list[str]:
    parts = text.split(f"```{language}\n")[1:]
    return [part.split("```", 1)[0] for part in parts]


def session(block: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before any command: {line!r}"
            steps[-1][1].append(line + "\n")
    return [(command, "".join(output)) for command, output in steps]


def test_readme_backend_session(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    code = next(b for b in blocks(text, "python") if 'Backend(command="group"' in b)
    console = next(b for b in blocks(text, "console") if "./group-backend" in b)
    program = tmp_path / "group-backend"
    program.write_text(code, encoding="utf-8")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    # "#!/usr/bin/env python3" finds this Python (with remctl) first on PATH.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python3 = bin_dir / "python3"
    python3.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    python3.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    steps = session(console)
    assert len(steps) >= 10
    for command, expected in steps:
        process = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, check=False)
        assert process.stdout == expected, command


def test_readme_testing_example(tmp_path: Path) -> None:
    """The PythonBackend example prints what its comments say, under remctld."""
    text = README.read_text(encoding="utf-8")
    program = next(b for b in blocks(text, "python") if 'Backend(command="group"' in b)
    example = next(b for b in blocks(text, "python") if "PythonBackend(" in b)
    (tmp_path / "group-backend").write_text(program, encoding="utf-8")
    (tmp_path / "example.py").write_text(example, encoding="utf-8")
    expected = "".join(
        line.strip()[2:] + "\n" for line in example.splitlines()
        if line.strip().startswith("# ")
    )
    process = subprocess.run([sys.executable, "example.py"], cwd=tmp_path,
                             capture_output=True, text=True, check=False)
    assert process.returncode == 0, process.stderr
    assert process.stdout == expected
