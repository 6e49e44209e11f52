"""Arguments from the command line to the values a command function wants.

The function's parameters say how many arguments it takes (required ones,
ones with defaults, ``*args``) and their annotations what each becomes:
``str`` (the default), ``bytes`` (unchanged), ``int``, ``float``, ``bool``,
an ``Enum`` (by value or name), a ``Literal`` (one of its values), a
``pathlib`` path (decoded as file names are), any other class called with
the text, and ``Optional``/unions of those (tried in order).

It reads the function's code object and annotations directly rather than
through :mod:`inspect` and :mod:`typing`, which would cost every backend
process more time to import than the whole of this package.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


_VARARGS = 0x04  # CO_VARARGS
_TRUE = frozenset(("1", "true", "yes", "on"))
_FALSE = frozenset(("0", "false", "no", "off"))


class ConversionError(ValueError):
    """An argument is not a valid value for its parameter."""


class Parameter:
    """A positional parameter (or the ``*args`` one) and its annotation."""

    __slots__ = ("hint", "name", "optional", "variadic")

    def __init__(self, name: str, hint: object, optional: bool, variadic: bool) -> None:
        self.name = name
        self.hint = hint
        self.optional = optional
        self.variadic = variadic


class Signature:
    """What a command function accepts: positional parameters and maybe *args."""

    __slots__ = ("maximum", "minimum", "parameters", "rest")

    def __init__(self, parameters: list[Parameter], rest: Parameter | None) -> None:
        self.parameters = parameters
        self.rest = rest
        self.minimum = sum(1 for p in parameters if not p.optional)
        self.maximum: int | None = None if rest is not None else len(parameters)

    def parameter(self, index: int) -> Parameter | None:
        """The parameter that receives the argument at this index (from 0)."""
        if index < len(self.parameters):
            return self.parameters[index]
        return self.rest


def _resolve(hint: object, namespace: dict[str, object]) -> object:
    """Evaluate an annotation written as a string (PEP 563)."""
    if not isinstance(hint, str):
        return hint
    try:
        return eval(hint, namespace)  # the program's own annotation, as typing does
    except TypeError:
        # "int | None" before Python 3.10: evaluate each alternative, None
        # standing for its type as in a typing.Union.
        if "|" in hint and "[" not in hint:
            parts = (_resolve(part.strip(), namespace) for part in hint.split("|"))
            return tuple(type(None) if part is None else part for part in parts)
        raise


def signature(function: Callable[..., object], skip: int) -> Signature:
    """Read the positional parameters of function, ignoring the first skip."""
    target: object = function
    bound = getattr(target, "__self__", None) is not None and hasattr(target, "__func__")
    if bound:
        target = target.__func__  # type: ignore[attr-defined]
        skip += 1
    code = getattr(target, "__code__", None)
    if code is None:
        return _signature_from_inspect(function, skip)
    annotations: dict[str, object] = dict(getattr(target, "__annotations__", None) or {})
    namespace: dict[str, object] = getattr(target, "__globals__", {})
    defaults = getattr(target, "__defaults__", None) or ()
    kwdefaults = getattr(target, "__kwdefaults__", None) or {}
    count = code.co_argcount
    names = code.co_varnames
    first_default = count - len(defaults)
    for keyword in names[count : count + code.co_kwonlyargcount]:
        if keyword not in kwdefaults:
            raise TypeError(
                f"{getattr(target, '__qualname__', target)}() has a required"
                f" keyword-only parameter {keyword!r}, which no argument can fill"
            )

    def hint(name: str) -> object:
        return _resolve(annotations.get(name, str), namespace)

    parameters = [
        Parameter(names[i], hint(names[i]), i >= first_default, False)
        for i in range(skip, count)
    ]
    rest = None
    if code.co_flags & _VARARGS:
        name = names[count + code.co_kwonlyargcount]
        rest = Parameter(name, hint(name), True, True)
    return Signature(parameters, rest)


def _signature_from_inspect(function: Callable[..., object], skip: int) -> Signature:
    import inspect  # only for callables that are not plain functions

    parameters = []
    rest = None
    for parameter in list(inspect.signature(function).parameters.values()):
        hint = str if parameter.annotation is parameter.empty else parameter.annotation
        optional = parameter.default is not parameter.empty
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            parameters.append(Parameter(parameter.name, hint, optional, False))
        elif parameter.kind == parameter.VAR_POSITIONAL:
            rest = Parameter(parameter.name, hint, True, True)
        elif parameter.kind == parameter.KEYWORD_ONLY and not optional:
            raise TypeError(
                f"{function!r} has a required keyword-only parameter"
                f" {parameter.name!r}, which no argument can fill"
            )
    return Signature(parameters[skip:], rest)


def _alternatives(hint: object) -> tuple[object, ...] | None:
    """The members of a union annotation, or None if it is not one."""
    if isinstance(hint, tuple):
        return hint
    if type(hint).__name__ == "UnionType":  # int | None, Python 3.10+
        return tuple(getattr(hint, "__args__", ()))
    typing = sys.modules.get("typing")
    if typing is not None and typing.get_origin(hint) is typing.Union:
        return tuple(typing.get_args(hint))
    return None


def _literal_values(hint: object) -> tuple[object, ...] | None:
    typing = sys.modules.get("typing")
    if typing is not None and typing.get_origin(hint) is typing.Literal:
        return tuple(typing.get_args(hint))
    return None


def _is_subclass(hint: object, module: str, name: str) -> bool:
    loaded = sys.modules.get(module)
    base = getattr(loaded, name, None) if loaded is not None else None
    return base is not None and isinstance(hint, type) and issubclass(hint, base)


def describe(hint: object) -> str:
    """How an error message names what an argument should have been."""
    alternatives = _alternatives(hint)
    if alternatives is not None:
        kinds = [describe(a) for a in alternatives if a is not type(None)]
        return " or ".join(kinds)
    literal = _literal_values(hint)
    if literal is not None:
        return "one of " + ", ".join(str(value) for value in literal)
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number"
    if hint is bool:
        return "true or false"
    if _is_subclass(hint, "enum", "Enum"):
        members = getattr(hint, "__members__", {}).values()
        return "one of " + ", ".join(_enum_label(member) for member in members)
    return getattr(hint, "__name__", str(hint))


def _is_any(hint: object) -> bool:
    typing = sys.modules.get("typing")
    return typing is not None and hint is typing.Any


def _enum_label(member: object) -> str:
    value = getattr(member, "value", None)
    return value if isinstance(value, str) else str(getattr(member, "name", member))


def _ascii_number(text: str) -> bool:
    return text.isascii() and text == text.strip() and text != ""


def convert(raw: bytes, text: str | None, hint: object) -> object:
    """Convert one argument: raw bytes, and its decoded text (None if invalid).

    Raises UnicodeError when the annotation needs text and the argument is
    not valid in the backend's encoding, ConversionError when the text is not
    a valid value.
    """
    if hint is bytes:
        return raw
    if _is_subclass(hint, "pathlib", "PurePath"):
        assert isinstance(hint, type)
        return hint(os.fsdecode(raw))
    alternatives = _alternatives(hint)
    if alternatives is not None:
        for alternative in alternatives:
            if alternative is type(None):
                continue
            try:
                return convert(raw, text, alternative)
            except (ConversionError, UnicodeError):
                continue
        raise ConversionError(f"expected {describe(hint)}")
    if text is None:
        raise UnicodeError("not valid text")
    if hint is str or hint is None or hint is object or _is_any(hint):
        return text
    literal = _literal_values(hint)
    if literal is not None:
        for value in literal:
            if str(value) == text:
                return value
        raise ConversionError(f"expected {describe(hint)}")
    if hint is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ConversionError("expected true or false")
    if hint is int:
        body = text[1:] if text[:1] in "+-" else text
        if not (_ascii_number(text) and body.isdigit()):
            raise ConversionError("expected an integer")
        return int(text)
    if hint is float:
        try:
            if not _ascii_number(text) or "_" in text:
                raise ValueError(text)
            return float(text)
        except ValueError:
            raise ConversionError("expected a number") from None
    if _is_subclass(hint, "enum", "Enum"):
        members = list(getattr(hint, "__members__", {}).values())
        for member in members:
            if _enum_label(member) == text:
                return member
        for member in members:
            if str(getattr(member, "value", None)) == text or member.name == text:
                return member
        raise ConversionError(f"expected {describe(hint)}")
    if isinstance(hint, type):
        try:
            return hint(text)
        except (TypeError, ValueError) as exc:
            raise ConversionError(str(exc) or f"expected {describe(hint)}") from None
        except Exception:  # noqa: BLE001 (Decimal raises InvalidOperation, ...)
            raise ConversionError(f"expected {describe(hint)}") from None
    # Annotations this does not know (Any, generics, ...) get the text.
    return text
