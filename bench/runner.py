"""Running one benchmark worker process (bench/workers/CLIENT.py) and
collecting its JSON result; repetitions that alternate between clients."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from clients import Client
from settings import Plan, log


class Runner:
    def __init__(self, env_object, clients: dict, plan: Plan):
        self.test_env = env_object
        self.clients = clients
        self.plan = plan
        self.failures: list = []
        self.base = {
            "host": env_object.host,
            "port": env_object.port,
            "principal": env_object.principal,
        }

    def worker_env(self, client: Client) -> dict:
        env = self.test_env.subprocess_env()
        for name in client.unset:
            env.pop(name, None)
        env.update(client.env)
        return env

    def run(
        self, client_name: str, workload: str, params: dict, prefix=()
    ) -> dict | None:
        """Run one worker; return its JSON, or None after recording a failure."""
        client = self.clients[client_name]
        if client.problem:
            return None
        full = dict(self.base)
        full.update(params)
        command = list(prefix) + list(client.argv) + [workload, json.dumps(full)]
        what = f"{client_name} {workload} {json.dumps(params)}"
        return self.execute(client_name, command, self.worker_env(client), what)

    def execute(self, label: str, command: list, env: dict, what: str) -> dict | None:
        """Run a program that prints JSON on its last line of output."""
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: it and its children
        )
        try:
            out, err = process.communicate(timeout=self.plan.worker_timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            self.fail(
                label, f"{what}: timed out after {self.plan.worker_timeout_s:g} s"
            )
            return None
        lines = out.decode(errors="replace").strip().splitlines()
        try:
            result = json.loads(lines[-1])
        except (IndexError, ValueError):
            result = {
                "ok": False,
                "error": f"no JSON output (exit {process.returncode})",
            }
        if process.returncode != 0 or not result.get("ok", True):
            detail = result.get("error", "")
            stderr = err.decode(errors="replace").strip()[-1500:]
            self.fail(label, f"{what}: {detail}\n{result.get('traceback', '')}{stderr}")
            return None
        return result

    def fail(self, client_name: str, message: str) -> None:
        log(f"FAILED {message}")
        self.failures.append(f"{client_name}: {message}")

    def rounds(self, names, workload, params, reps) -> dict:
        """reps repetitions, alternating between clients: {client: [results]}."""
        results = {name: [] for name in names}
        for index in range(reps):
            for name in names:
                if self.clients[name].problem:
                    continue
                result = self.run(name, workload, params)
                if result is not None:
                    result["round"] = index  # pairs the clients' runs
                    results[name].append(result)
        return results
