"""Command-line options in the style of Perl's Getopt::Long.

A command's ``options`` are Getopt::Long specifications (``"verbose|v"``,
``"name=s"``, ``"count=i@"``, ...), parsed the way Net::Remctl::Backend
configures Getopt::Long: single-letter options bundle (``-vx``, ``-n5``),
long options need two dashes and may be abbreviated to a unique prefix,
names are case-sensitive, and parsing stops at the first argument that is
not an option (or after ``--``).  The result is a ``dict`` keyed by each
option's first name; options that were not given are absent.

Supported specifications (``NAMES`` is ``name|alias|a``):

- ``NAMES``: a flag, ``True`` when given;
- ``NAMES!``: a flag that ``--noNAME`` / ``--no-NAME`` sets to ``False``;
- ``NAMES+``: a counter, incremented each time it is given;
- ``NAMES=T`` / ``NAMES:T`` with T ``s`` (str), ``i`` (int) or ``f``
  (float): a mandatory / optional value (an optional one that is missing is
  ``""``, ``0`` or ``0.0``); ``NAMES:N`` an optional int defaulting to N;
- a trailing ``@`` (``=s@``): every value is kept, in a list.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union

    OptionValue = Union[bool, int, float, str, list[object]]

_VALUE_TYPES = {"s": "str", "i": "int", "f": "float"}
_NAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
)


class OptionError(Exception):
    """The arguments do not match the options; the message says why."""


class OptionSpec:
    """One parsed Getopt::Long specification."""

    __slots__ = ("default", "key", "kind", "mandatory", "names", "repeat", "type")

    def __init__(self, spec: str) -> None:
        names, kind, type_, mandatory, default, repeat = _split_spec(spec)
        self.names = names
        self.key = names[0]
        #: "flag", "negatable", "counter" or "value".
        self.kind = kind
        #: "s", "i" or "f" for values.
        self.type = type_
        self.mandatory = mandatory
        self.default = default
        self.repeat = repeat


def _split_spec(spec: str) -> tuple[list[str], str, str, bool, object, bool]:
    if not isinstance(spec, str):
        raise TypeError(f"option specification must be a str, not {spec!r}")
    bad = ValueError(f"unsupported option specification: {spec!r}")
    end = len(spec)
    while end > 0 and spec[end - 1] not in "!+=:":
        end -= 1
    if end == 0:
        names_part, modifier = spec, ""
    else:
        names_part, modifier = spec[: end - 1], spec[end - 1 :]
    names = names_part.split("|")
    if not names[0] or any(not name or not _NAME_CHARS.issuperset(name) for name in names):
        raise bad
    if names[0].startswith("-"):
        raise bad
    if modifier == "":
        return names, "flag", "", False, None, False
    if modifier == "!":
        return names, "negatable", "", False, None, False
    if modifier == "+":
        return names, "counter", "", False, None, False
    mandatory = modifier[0] == "="
    body = modifier[1:]
    repeat = body.endswith("@")
    if repeat:
        body = body[:-1]
    if body in _VALUE_TYPES:
        default: object = {"s": "", "i": 0, "f": 0.0}[body]
        return names, "value", body, mandatory, default, repeat
    digits = body.removeprefix("-")
    if not mandatory and digits.isascii() and digits.isdigit():
        return names, "value", "i", False, int(body), repeat
    raise bad


def parse_specs(specs: list[str]) -> dict[str, tuple[OptionSpec, bool]]:
    """Map every accepted name to (spec, negated); raise ValueError if invalid."""
    table: dict[str, tuple[OptionSpec, bool]] = {}
    for text in specs:
        spec = OptionSpec(text)
        for name in spec.names:
            forms = [(name, False)]
            if spec.kind == "negatable":
                forms += [("no" + name, True), ("no-" + name, True)]
            for form, negated in forms:
                if form in table:
                    raise ValueError(f"option name {form!r} given twice")
                table[form] = (spec, negated)
    return table


def _is_int(text: str) -> bool:
    # Getopt::Long's integer: an optional sign, digits and underscores.
    body = text[1:] if text[:1] in ("+", "-") else text
    digits = body.replace("_", "")
    return bool(digits) and digits.isascii() and digits.isdigit()


def _int_prefix(text: str) -> int:
    """Length of the longest integer at the start of text, or 0."""
    end = 1 if text[:1] in ("+", "-") else 0
    start = end
    while end < len(text) and text[end] == "_":
        end += 1
    if end >= len(text) or not ("0" <= text[end] <= "9"):
        return 0
    while end < len(text) and ("0" <= text[end] <= "9" or text[end] == "_"):
        end += 1
    return end if end > start else 0


def _is_float(text: str) -> bool:
    # An optional sign, digits, an optional fraction, an optional exponent.
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not body.isascii() or not (body[0].isdigit() or body[0] == "."):
        return False
    mantissa, _, exponent = body.lower().partition("e")
    whole, dot, fraction = mantissa.partition(".")
    if whole.strip("_") and not whole.replace("_", "").isdigit():
        return False
    if dot and not fraction.replace("_", "").isdigit():
        return False
    if not dot and not whole.replace("_", ""):
        return False
    if "e" in body.lower():
        digits = exponent[1:] if exponent[:1] in ("+", "-") else exponent
        if not digits.replace("_", "").isdigit():
            return False
    return True


def _float_prefix(text: str) -> int:
    """Length of the longest number at the start of text, or 0."""
    for end in range(len(text), 0, -1):
        if _is_float(text[:end]):
            return end
    return 0


def _convert(spec: OptionSpec, name: str, value: str) -> object:
    if spec.type == "i":
        if not _is_int(value):
            raise OptionError(f'value "{value}" invalid for option {name} (number expected)')
        return int(value.replace("_", ""))
    if spec.type == "f":
        if not _is_float(value):
            raise OptionError(
                f'value "{value}" invalid for option {name} (real number expected)'
            )
        return float(value.replace("_", ""))
    return value


def _looks_like_option(arg: str) -> bool:
    return arg == "--" or (arg.startswith("-") and len(arg) > 1)


class _Parser:
    def __init__(self, table: dict[str, tuple[OptionSpec, bool]], args: list[str]) -> None:
        self.table = table
        self.args = args
        self.result: dict[str, object] = {}

    def store(self, spec: OptionSpec, value: object) -> None:
        if spec.kind == "counter":
            previous = self.result.get(spec.key, 0)
            assert isinstance(previous, int)
            self.result[spec.key] = previous + 1
        elif spec.repeat:
            values = self.result.setdefault(spec.key, [])
            assert isinstance(values, list)
            values.append(value)
        else:
            self.result[spec.key] = value

    def lookup_long(self, name: str) -> tuple[str, OptionSpec, bool]:
        if name in self.table:
            spec, negated = self.table[name]
            return name, spec, negated
        hits = sorted(known for known in self.table if name and known.startswith(name))
        if not hits:
            raise OptionError(f"unknown option: {name}")
        groups = {(self.table[hit][0].key, self.table[hit][1]) for hit in hits}
        if len(groups) > 1:
            raise OptionError(f"option {name} is ambiguous ({', '.join(hits)})")
        spec, negated = self.table[hits[0]]
        return ("no" if negated else "") + spec.key, spec, negated

    def value(
        self, spec: OptionSpec, name: str, attached: str | None, bundled: bool
    ) -> tuple[object, str | None]:
        """The option's value and what is left of a bundle after it."""
        if attached is not None and attached != "":
            if bundled and spec.type in ("i", "f"):
                # A number may be followed by more bundled options: -n5v.
                prefix = _int_prefix if spec.type == "i" else _float_prefix
                length = prefix(attached)
                if length:
                    number = _convert(spec, name, attached[:length])
                    return number, attached[length:] or None
                if not spec.mandatory:
                    return spec.default, attached
            return _convert(spec, name, attached), None
        if attached == "" or not self.args:
            if spec.mandatory:
                raise OptionError(f"option {name} requires an argument")
            return spec.default, None
        following = self.args[0]
        if spec.mandatory:
            if spec.type == "s":
                return self.args.pop(0), None
            value = _convert(spec, name, following)
            self.args.pop(0)
            return value, None
        if spec.type == "s":
            if _looks_like_option(following) and following != "-":
                return spec.default, None
            return self.args.pop(0), None
        valid = _is_int(following) if spec.type == "i" else _is_float(following)
        if not valid:
            return spec.default, None
        self.args.pop(0)
        return _convert(spec, name, following), None

    def one(self, spec: OptionSpec, negated: bool, name: str, attached: str | None,
            bundled: bool) -> str | None:
        """Handle one option; return what is left of a bundle."""
        if spec.kind != "value":
            if attached is not None and not bundled:
                raise OptionError(f"option {name} does not take an argument")
            self.store(spec, not negated)
            return attached if bundled else None
        value, rest = self.value(spec, name, attached, bundled)
        self.store(spec, value)
        return rest

    def run(self) -> None:
        while self.args:
            arg = self.args[0]
            if arg == "--":
                self.args.pop(0)
                return
            if arg.startswith("--"):
                self.args.pop(0)
                body = arg[2:]
                name, sep, value = body.partition("=")
                if not sep or not name:
                    name, value = body, ""
                attached = value if sep and name else None
                name, spec, negated = self.lookup_long(name)
                self.one(spec, negated, name, attached, bundled=False)
            elif arg.startswith("-") and len(arg) > 1:
                self.args.pop(0)
                rest: str | None = arg[1:]
                while rest:
                    letter, rest = rest[0], rest[1:] or None
                    if letter not in self.table:
                        raise OptionError(f"unknown option: {letter}")
                    spec, negated = self.table[letter]
                    rest = self.one(spec, negated, letter, rest, bundled=True)
            else:
                return


def parse_options(
    table: dict[str, tuple[OptionSpec, bool]], args: list[str]
) -> tuple[dict[str, object], list[str]]:
    """Parse leading options; return them and the remaining arguments."""
    parser = _Parser(table, list(args))
    parser.run()
    return parser.result, parser.args
