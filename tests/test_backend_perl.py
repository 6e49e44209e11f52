"""remctl.backend against Perl's Net::Remctl::Backend, run side by side.

The same command tables go to both; the help text must be identical byte
for byte (random tables: summaries of every length, long words, tabs,
nested commands, long syntaxes), and so must the parsed options, the
remaining arguments and the error messages for option parsing, argument
counts and args_match.  Needs perl and Net::Remctl::Backend
(libnet-remctl-perl), installed by scripts/install-system-deps.sh.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import subprocess
from typing import Any

import pytest
from remctl.backend import Backend

ORACLE = r"""
use strict; use warnings;
use JSON::PP; use Net::Remctl::Backend;
my $cases = decode_json(do { local $/; <STDIN> });
sub table {
    my ($t) = @_;
    my %c;
    for my $name (keys %$t) {
        my $d = $t->{$name};
        my %e;
        for my $k (qw(syntax summary args_min args_max options)) {
            $e{$k} = $d->{$k} if exists $d->{$k};
        }
        $e{args_match} = [map { defined $_ ? qr/$_/ : undef } @{$d->{args_match}}]
            if $d->{args_match};
        $e{nested} = table($d->{nested}) if $d->{nested};
        $e{code} = sub {
            my @a = @_;
            my $o = ref $a[0] eq 'HASH' ? shift @a : undef;
            print encode_json({options => $o, args => [@a]});
            return 0;
        } if $d->{code};
        $c{$name} = \%e;
    }
    return \%c;
}
my @out;
for my $case (@$cases) {
    my $b = Net::Remctl::Backend->new({command => $case->{command},
        help_banner => $case->{banner}, commands => table($case->{commands})});
    if ($case->{argv}) {
        my $buf = '';
        open(my $fh, '>', \$buf) or die;
        local *STDOUT = $fh;
        my $status = eval { $b->run(@{$case->{argv}}) };
        my $err = $@;
        close $fh;
        push @out, {out => $buf, err => $err};
    } else {
        push @out, {help => $b->help};
    }
}
print encode_json(\@out);
"""


def perl(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the cases through Net::Remctl::Backend; fail if it is missing."""
    assert shutil.which("perl"), "perl is needed (scripts/install-system-deps.sh)"
    process = subprocess.run(
        ["perl", "-e", ORACLE],
        input=json.dumps(cases).encode(),
        capture_output=True,
        check=False,
    )
    assert process.returncode == 0, process.stderr.decode()
    result: list[dict[str, Any]] = json.loads(process.stdout)
    return result


def build(case: dict[str, Any]) -> Backend:
    backend = Backend(command=case.get("command"), help_banner=case.get("banner"))
    fill(backend, case["commands"])
    return backend


def fill(backend: Backend, table: dict[str, Any]) -> None:
    for name, spec in table.items():
        nested = None
        if "nested" in spec:
            nested = Backend()
            fill(nested, spec["nested"])
        settings = {k: spec[k] for k in ("syntax", "summary", "args_min", "args_max",
                                         "args_match", "options") if k in spec}
        if spec.get("code"):
            def report(*args: Any) -> int:
                options = args[0] if args and isinstance(args[0], dict) else None
                rest = list(args[1:] if options is not None else args)
                print(json.dumps({"options": options, "args": rest}))
                return 0

            backend.command(name, nested=nested, **settings)(report)
        else:
            assert nested is not None
            backend.command(name, nested=nested, **settings)


def python(case: dict[str, Any]) -> dict[str, Any]:
    backend = build(case)
    if "argv" not in case:
        return {"help": backend.help()}
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = backend.run(case["argv"])
    message = err.getvalue()
    assert (status == 0) == (message == ""), (status, message)
    return {"out": out.getvalue(), "err": message}


WORDS = ["a", "an", "the", "user", "group", "delete", "show", "list", "create", "quota", "volume"]


def random_text(rng: random.Random) -> str:
    words = []
    for _ in range(rng.choice([1, 2, 5, 9, 14, 25, 40])):
        roll = rng.random()
        if roll < 0.03:
            words.append("x" * rng.randint(30, 120))  # longer than a line
        elif roll < 0.06:
            words.append("\t" + rng.choice(WORDS))
        else:
            words.append(rng.choice(WORDS) + "." * rng.randint(0, 3))
    separator = "  " if rng.random() < 0.1 else " "
    return separator.join(words)


def random_table(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for _ in range(rng.randint(1, 6)):
        name = rng.choice(WORDS) + rng.choice(["", "-x", "2", "-all"])
        spec: dict[str, Any] = {"code": 1}
        if rng.random() < 0.85:
            spec["syntax"] = rng.choice(["", "<a>", "<name> <group>", "[-f] <x>",
                                         "<" + "y" * rng.randint(10, 60) + ">"])
        if rng.random() < 0.8:
            spec["summary"] = random_text(rng)
        if depth == 0 and rng.random() < 0.2:
            spec["nested"] = random_table(rng, depth + 1)
            if rng.random() < 0.5:
                del spec["code"]
        table[name] = spec
    return table


def test_help_layout_matches_perl_for_random_tables() -> None:
    rng = random.Random(4373)
    cases = []
    for _ in range(300):
        case: dict[str, Any] = {"commands": random_table(rng)}
        if rng.random() < 0.7:
            case["command"] = rng.choice(["user", "afs", "a-very-long-command-name"])
        if rng.random() < 0.6:
            case["banner"] = rng.choice(["User remctl help:", "Banner\n"])
        cases.append(case)
    expected = perl(cases)
    for case, want in zip(cases, expected):
        assert python(case) == want, json.dumps(case)


OPTIONS = ["verbose|v+", "name|n=s", "count|c=i", "ratio|r=f", "list|l=s@",
           "numbers=i@", "force|f", "dry-run!", "maybe:s", "level:i", "Upper|U"]

ARGVS = [
    [], ["-v"], ["-vvv", "x"], ["-vf", "a", "b"], ["--verbose", "--verbose"],
    ["-nfoo"], ["-n", "foo", "bar"], ["-n"], ["--name", "-v"], ["--name=", "x"],
    ["--name=a=b"], ["-c5"], ["-c", "5"], ["-c", "x"], ["-c5v", "z"], ["-cx"],
    ["--count=-3"], ["--count=+4"], ["--count=1_000"], ["--count", "1.5"],
    ["--ratio=1.5"], ["--ratio", "2"], ["--ratio=.5e3"], ["--ratio=abc"],
    ["-l", "a", "-lb", "--list=c"], ["--numbers=1", "--numbers", "2"],
    ["--dry-run"], ["--nodry-run"], ["--no-dry-run"], ["--dry"], ["--no-dry"],
    ["--force=1"], ["--maybe"], ["--maybe", "val"], ["--maybe", "-v"],
    ["--maybe=", "x"], ["--level"], ["--level", "7"], ["--level", "x"],
    ["--level=x"], ["-x"], ["--unknown"], ["-V"], ["-U"], ["--upper"],
    ["--Upper"], ["--ver"], ["--n", "a"], ["--na", "a"], ["--c", "2"],
    ["--r", "1"], ["--l", "a"], ["--", "-v"], ["-v", "--", "--name"], ["-", "-v"],
    ["x", "-v"], ["-v", "x", "-f"], ["-r1.5v"], ["-r1.v"], ["-r1e3f", "x"], ["-rx"], ["--=x"], ["---v"], ["--no-force"],
]

# Where remctl.backend deliberately differs: Getopt::Long goes on after an
# error and Net::Remctl::Backend reports the last one; the first is reported
# here.  (Getopt::Long also takes "+x" as an option; here it is an argument:
# test_backend.py checks that.)
DIFFERENT = {
    ("-cx",): (
        'user cmd: value "x" invalid for option c (number expected)\n',
        "user cmd: unknown option: x\n",
    ),
    ("-rx",): (
        'user cmd: value "x" invalid for option r (real number expected)\n',
        "user cmd: unknown option: x\n",
    ),
}


@pytest.mark.parametrize("argv", ARGVS, ids=[" ".join(a) or "none" for a in ARGVS])
def test_options_match_perl(argv: list[str]) -> None:
    case = {"command": "user", "commands": {"cmd": {"code": 1, "options": OPTIONS}},
            "argv": ["cmd", *argv]}
    want = perl([case])[0]
    got = python(case)
    if tuple(argv) in DIFFERENT:
        assert (got["err"], want["err"]) == DIFFERENT[tuple(argv)]
        return
    assert got["err"] == want["err"]
    if want["out"]:
        assert normalise(json.loads(got["out"])) == normalise(json.loads(want["out"]))
    else:
        assert got["out"] == ""


def normalise(value: Any) -> Any:
    """Perl's 1/0 and number strings, Python's True/False/int/float: as text."""
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, bool):
        return repr(float(value))
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, str):
        try:
            return repr(float(value.replace("_", "")))
        except ValueError:
            return value
    return value


CHECKS: list[tuple[dict[str, Any], list[str]]] = [
    ({"args_min": 1}, []),
    ({"args_min": 1}, ["a"]),
    ({"args_max": 1}, ["a", "b"]),
    ({"args_min": 2, "args_max": 2}, ["a"]),
    ({"args_match": ["^[a-z]+$", None, "^\\d+$"]}, ["abc", "ANY", "12"]),
    ({"args_match": ["^[a-z]+$"]}, ["ABC"]),
    ({"args_match": [None, "^\\d+$"]}, ["x", "1 2"]),
    ({"args_match": ["^a$"]}, ["a\x01"]),
    ({"args_match": ["^a$"]}, ["a\n"]),
    ({"args_max": 0, "options": ["x"]}, ["-x"]),
    ({"args_max": 0, "options": ["x"]}, ["-x", "y"]),
]


@pytest.mark.parametrize("settings,argv", CHECKS)
def test_argument_checks_match_perl(settings: dict[str, Any], argv: list[str]) -> None:
    spec = {"code": 1, **settings}
    case = {"command": "user", "commands": {"cmd": spec, "other": {"code": 1}},
            "argv": ["cmd", *argv]}
    want = perl([case])[0]
    got = python(case)
    assert got["err"] == want["err"]
    if want["out"]:
        assert json.loads(got["out"]) == json.loads(want["out"])


def test_nested_dispatch_matches_perl() -> None:
    commands = {"config": {"code": 1, "nested": {"get": {"code": 1, "args_max": 1}}},
                "group": {"nested": {"add": {"code": 1}}}}
    for argv in (["config"], ["config", "get", "k"], ["config", "get", "k", "l"],
                 ["group", "add", "x"]):
        case = {"command": "u", "commands": commands, "argv": argv}
        want = perl([case])[0]
        got = python(case)
        assert (got["err"], got["out"] and json.loads(got["out"])) == (
            want["err"], want["out"] and json.loads(want["out"]))


GETOPT = r"""
use strict; use warnings;
use JSON::PP; use Getopt::Long;
my $input = decode_json(do { local $/; <STDIN> });
my @out;
for my $argv (@{$input->{argvs}}) {
    my $parser = Getopt::Long::Parser->new;
    $parser->configure(qw(bundling no_ignore_case require_order));
    my @warnings;
    local $SIG{__WARN__} = sub { push @warnings, $_[0] };
    local @ARGV = @$argv;
    my %options;
    my $ok = $parser->getoptions(\%options, @{$input->{specs}});
    push @out, {ok => $ok ? 1 : 0, warnings => [@warnings], options => \%options,
                args => [@ARGV]};
}
print encode_json(\@out);
"""

TOKENS = ["-v", "-vv", "-vf", "-n", "foo", "-nfoo", "--name", "--name=", "--name=x",
          "-c", "5", "-c5", "-c5v", "-cx", "--count=3", "--count", "x", "--ratio=1.5",
          "-r2", "-r.5f", "-l", "a", "--list=b", "--numbers=4", "--dry-run",
          "--no-dry-run", "--nodry", "--force", "-f", "--force=1", "--maybe",
          "--maybe=v", "--level", "7", "--level=", "--", "-", "y", "--unk", "-Z",
          "--ver", "--c", "--n", "-U", "--upper", "--Upper", "1_0", "-5", "--no-force"]


def test_option_parsing_matches_getopt_long_on_random_argument_lists() -> None:
    """Getopt::Long itself, configured as Net::Remctl::Backend does it.

    Getopt::Long goes on after an error; the first error is what this module
    reports, so that is what is compared.
    """
    from remctl.backend._options import OptionError, parse_options, parse_specs

    rng = random.Random(4444)
    argvs = [[rng.choice(TOKENS) for _ in range(rng.randint(0, 6))] for _ in range(600)]
    assert shutil.which("perl"), "perl is needed (scripts/install-system-deps.sh)"
    process = subprocess.run(
        ["perl", "-e", GETOPT],
        input=json.dumps({"specs": OPTIONS, "argvs": argvs}).encode(),
        capture_output=True,
        check=True,
    )
    table = parse_specs(OPTIONS)
    errors = 0
    for argv, want in zip(argvs, json.loads(process.stdout)):
        try:
            options, rest = parse_options(table, argv)
        except OptionError as exc:
            errors += 1
            assert not want["ok"], argv
            first = want["warnings"][0].rstrip("\n")
            assert str(exc) == first[:1].lower() + first[1:], argv
            continue
        assert want["ok"], (argv, want["warnings"])
        assert (normalise(options), rest) == (normalise(want["options"]), want["args"]), argv
    # Both outcomes were exercised.
    assert 100 < errors < 500, errors
