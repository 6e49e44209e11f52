#!/usr/bin/env python3
"""A remctl backend: a small user database, written with remctl.backend.

remctld runs this program for the ``user`` command.  In remctl.conf (the
first matching line wins, so the specific one comes first)::

    user passwd /usr/local/sbin/user-backend stdin=last ANYUSER
    user ALL    /usr/local/sbin/user-backend help=help summary=help ANYUSER

``remctl HOST user help`` and ``remctl HOST help`` then print this program's
help, and ``remctl HOST user passwd NAME SECRET`` passes the secret on
standard input, never on a command line.  The users are kept in the JSON
file named by ``$USER_BACKEND_DB`` (default ``users.json``).
"""

from __future__ import annotations

import enum
import json
import os
from pathlib import Path
from typing import Any

from remctl.backend import Backend, Options

backend = Backend(command="user", help_banner="User database remctl help:")
groups = Backend()

NAME = r"^[a-z][a-z0-9]{0,15}$"


class Shell(enum.Enum):
    BASH = "bash"
    ZSH = "zsh"


def database() -> Path:
    return Path(os.environ.get("USER_BACKEND_DB", "users.json"))


def load() -> dict[str, dict[str, Any]]:
    try:
        users: dict[str, dict[str, Any]] = json.loads(database().read_text())
    except FileNotFoundError:
        return {}
    return users


def save(users: dict[str, dict[str, Any]]) -> None:
    path = database()
    path.with_suffix(".tmp").write_text(json.dumps(users, indent=1, sort_keys=True))
    path.with_suffix(".tmp").replace(path)


def find(users: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    if name not in users:
        raise LookupError(f"no such user: {name}")
    return users[name]


@backend.command(
    syntax="[-c <comment>] <name> <uid> [<shell>]",
    summary="Create a user (shell bash or zsh, default bash)",
    options=["comment|c=s"],
    args_match=[NAME],
)
def add(options: Options, name: str, uid: int, shell: Shell = Shell.BASH) -> int:
    users = load()
    if name in users:
        raise ValueError(f"user {name} already exists")
    comment = options.get("comment", "")
    users[name] = {"uid": uid, "shell": shell.value, "comment": comment, "groups": []}
    save(users)
    print(f"created {name} ({uid})")
    return 0


@backend.command(syntax="<name>", summary="Show a user", args_match=[NAME])
def show(name: str) -> None:
    user = find(load(), name)
    print(f"{name}: uid {user['uid']}, shell {user['shell']}")
    if user["comment"]:
        print(f"  {user['comment']}")
    if user["groups"]:
        print(f"  groups: {' '.join(user['groups'])}")


@backend.command(name="list", syntax="[-l]", summary="List the users", options=["long|l"])
def list_users(options: Options) -> None:
    for name, user in sorted(load().items()):
        print(f"{name} {user['uid']} {user['shell']}" if options.get("long") else name)


@backend.command(
    syntax="<name> <password>",
    summary="Set a user's password (sent on standard input, any bytes)",
    stdin=-1,
    args_match=[NAME],
)
def passwd(name: str, password: bytes) -> None:
    import hashlib  # here, not at the top: only this command pays for it

    users = load()
    find(users, name)["password"] = hashlib.sha256(password).hexdigest()
    save(users)
    print(f"password of {name} set ({len(password)} bytes)")


@backend.command(syntax="<name>...", summary="Delete users", args_min=1)
def delete(*names: str) -> int:
    users = load()
    missing = [name for name in names if name not in users]
    for name in names:
        users.pop(name, None)
    save(users)
    print(f"deleted {len(names) - len(missing)}")
    return 2 if missing else 0


@groups.command(name="add", syntax="<name> <group>", summary="Add a user to a group")
def group_add(name: str, group: str) -> None:
    users = load()
    find(users, name)["groups"].append(group)
    save(users)


@groups.command(syntax="<group>", summary="List a group's members")
def members(group: str) -> None:
    print(" ".join(sorted(n for n, u in load().items() if group in u["groups"])))


backend.command("group", nested=groups)


if __name__ == "__main__":
    raise SystemExit(backend.run())
