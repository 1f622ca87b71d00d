"""Every ``a0sync`` command on a database that was never upgraded: it says so with a
code (``database_not_upgraded``), or, for the few that need no schema, does its job
or refuses in words — never a traceback.

The commands are found in the click group itself (so a command added later is
walked too), their required arguments made up from their types. Each runs in this
process on its own empty SQLite file (one that ``db upgrade`` upgrades does not
leak into the next). Not run: Flask-Migrate's authoring commands, which write
migration files into the repository (``db init|revision|migrate|edit|merge``),
and ``demo``, which builds and serves a whole commune (``tests/test_demo_alive.py``
runs it on an empty database).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo

from a0core.errors import catalogue
from server import create_app
from server.cli import SCHEMA_FREE, main

NOT_RUN = {("db", "init"), ("db", "revision"), ("db", "migrate"), ("db", "edit"),
           ("db", "merge"), ("demo",)}
CODE = re.compile(r"^(\w+): ", re.M)


def commands(tmp: Path) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'list.sqlite'}",
                      "INSTANCE_PATH": str(tmp / "instance")})
    ctx = click.Context(main, obj=ScriptInfo(create_app=lambda: app))

    def walk(group: click.Group, path: tuple[str, ...]) -> Iterator:
        names = group.list_commands(ctx)
        for name in names:
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                yield from walk(command, (*path, name))
            elif command is not None:
                yield (*path, name), command

    yield from walk(main, ())


def made_up_args(command: click.Command, tmp: Path) -> list[str]:
    """A value for every required argument and option, from its type."""
    junk = tmp / "junk.bin"
    junk.write_bytes(b"not what the command expects\n")

    def value(param: click.Parameter) -> str:
        kind = param.type
        if isinstance(kind, click.Choice):
            return str(kind.choices[0])
        if isinstance(kind, click.Path | click.File):
            return str(junk) if getattr(kind, "exists", False) else str(tmp / "out.bin")
        if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
            return "1"
        return "x1"

    args: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        if isinstance(param, click.Argument):
            args.append(value(param))
        else:
            args += [param.opts[0], value(param)]
    return args


def test_every_command_on_an_empty_database_refuses_in_words(tmp_path: Path) -> None:
    found = list(commands(tmp_path))
    walked = [path for path, _ in found if path not in NOT_RUN]
    # the group really was walked: ours, their subcommands and Flask's own
    assert {("users", "create"), ("orgunits", "import"), ("run",), ("db", "upgrade"),
            ("users", "token", "list")} <= set(walked)
    runner = CliRunner()
    known = set(catalogue())
    for n, (path, command) in enumerate(found):
        if path in NOT_RUN:
            continue
        folder = tmp_path / f"c{n}"
        folder.mkdir()
        env = {"DATABASE_URL": f"sqlite:///{folder / 'empty.sqlite'}",
               "A0SYNC_INSTANCE": str(folder / "instance"), "FLASK_DEBUG": "0"}
        args = [*path, *made_up_args(command, folder)]
        result = runner.invoke(main, args, env=env, input="")
        shown = result.output + (result.stderr if result.stderr_bytes else "")
        where = f"a0sync {' '.join(args)} → {result.exit_code}\n{shown}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            where + repr(result.exception))
        assert "Traceback" not in shown, where
        if path[0] in SCHEMA_FREE:
            continue
        assert result.exit_code == 2, where
        codes = set(CODE.findall(shown))
        assert codes == {"database_not_upgraded"} and codes <= known, where
        assert "a0sync db upgrade" in shown, where


@pytest.fixture
def upgraded(tmp_path: Path) -> dict[str, str]:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "A0SYNC_INSTANCE": str(tmp_path / "instance")}
    assert CliRunner().invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    return env


def test_arguments_are_checked_before_the_password_is_asked(upgraded: dict[str, str]) -> None:
    runner = CliRunner()
    # commune staff without a commune: refused at once, no password prompt
    result = runner.invoke(main, ["users", "create", "lan.tran", "--role", "commune_staff"],
                           env=upgraded, input="")
    assert result.exit_code == 2 and "role_unit_mismatch" in result.output
    assert "Mật khẩu" not in result.output and "password" not in result.output.lower()
    # an unknown unit, likewise
    result = runner.invoke(main, ["users", "create", "lan.tran", "--role", "commune_staff",
                                  "--unit", "99999"], env=upgraded, input="")
    assert result.exit_code == 2 and "orgunit_unknown" in result.output
    assert "Mật khẩu" not in result.output
    # an unknown user for set-password: a code, before any prompt
    result = runner.invoke(main, ["users", "set-password", "nobody"], env=upgraded, input="")
    assert result.exit_code == 2 and "user_unknown" in result.output
    assert "Mật khẩu" not in result.output
    # a right set of arguments does reach the prompt (the check is not a refusal of all)
    result = runner.invoke(main, ["users", "create", "quantri", "--role", "admin"],
                           env=upgraded, input="Hoa phượng đỏ 2026\nHoa phượng đỏ 2026\n")
    assert result.exit_code == 0, result.output
    assert "Mật khẩu" in result.output


@pytest.mark.parametrize("args", [
    ["duplicates", "scan", "--commune", "99999"],
    ["devices", "list", "--commune", "99999"],
    ["areas", "list", "--commune", "99999"],
])
def test_unknown_units_are_errors(upgraded: dict[str, str], args: list[str]) -> None:
    result = CliRunner().invoke(main, args, env=upgraded)
    assert result.exit_code == 2 and "orgunit_unknown" in result.output, result.output


def test_every_listing_speaks_json(tmp_path: Path, upgraded: dict[str, str]) -> None:
    """A command that lists (``… list``, ``orgunits migrations|stats``) takes ``--json``
    and prints JSON a script can read, on an upgraded database too."""
    listings = [(path, command) for path, command in commands(tmp_path)
                if path[0] != "db" and path[-1] in ("list", "migrations", "stats")]
    assert {("users", "list"), ("devices", "list"), ("areas", "list"), ("keys", "list"),
            ("users", "token", "list")} <= {path for path, _ in listings}
    runner = CliRunner()
    for path, command in listings:
        assert "--json" in {opt for p in command.params for opt in p.opts}, path
        args = [*path, *made_up_args(command, tmp_path), "--json"]
        result = runner.invoke(main, args, env=upgraded)
        assert result.exit_code == 0, (args, result.output)
        json.loads(result.output)


def test_every_listing_on_an_empty_database_says_it_is_empty(tmp_path: Path,
                                                            upgraded: dict[str, str]) -> None:
    """A fresh server's first commands: a listing with nothing to list prints a sentence in
    both languages (with what to do next), not a blank screen that reads as a failure."""
    runner = CliRunner()
    for args in (["users", "list"], ["devices", "list"], ["areas", "list"],
                 ["users", "token", "list"], ["orgunits", "migrations"],
                 ["orgunits", "stats"]):
        result = runner.invoke(main, args, env=upgraded)
        assert result.exit_code == 0, (args, result.output)
        vi, en = result.output.strip().splitlines()
        assert vi.startswith("Chưa") and en.startswith("No "), (args, result.output)
    keys = runner.invoke(main, ["keys", "list"], env=upgraded).output
    assert "giờ Việt Nam" in keys and "T" not in keys.split()[1]  # 05/12/2026, not ISO
