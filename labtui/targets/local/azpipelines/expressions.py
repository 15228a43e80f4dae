"""Azure Pipelines expressions: a tokenizer, a recursive-descent parser and an evaluator.

The same grammar serves template expressions (`${{ parameters.x }}`, compile time) and
conditions (`and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'))`, run
time). Values are str, float, bool, None, list and dict. Types convert as Azure converts them:
`eq` casts its right argument to the type of its left one and compares strings ignoring case;
a string is true when it is not empty; a number converts to text without a trailing `.0`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labtui.targets.local.azpipelines.errors import ExpressionError

Value = Any  # str | float | bool | None | list[Value] | dict[str, Value]

STATUS_FUNCTIONS = ("always", "canceled", "failed", "succeeded", "succeededorfailed")


# --- syntax -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Literal:
    value: Value


@dataclass(frozen=True)
class Name:
    name: str


@dataclass(frozen=True)
class Index:
    base: Node
    key: Node


@dataclass(frozen=True)
class Call:
    name: str  # lower case
    spelled: str
    args: tuple[Node, ...]


Node = Literal | Name | Index | Call

TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z_.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_\-]*)
  | (?P<punct>[()\[\],.])
""", re.VERBOSE)


def tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(text):
        found = TOKEN.match(text, position)
        if not found:
            if text[position] == "'":
                raise ExpressionError(f"unterminated string at position {position + 1}")
            raise ExpressionError(f"unexpected {text[position]!r} at position {position + 1}")
        kind = found.lastgroup or ""
        if kind != "space":
            tokens.append((kind, found.group(), position))
        position = found.end()
    return tokens


class Parser:
    """expression := primary ( '.' ident | '[' expression ']' )*
    primary := literal | ident '(' [expression (',' expression)*] ')' | ident"""

    def __init__(self, text: str, names: Sequence[str], functions: Sequence[str]) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0
        self.names = {name.lower(): name for name in names}
        self.functions = {name.lower() for name in functions}

    def parse(self) -> Node:
        if not self.tokens:
            raise ExpressionError("empty expression")
        node = self.expression()
        if self.at < len(self.tokens):
            _, spelled, position = self.tokens[self.at]
            raise ExpressionError(f"unexpected {spelled!r} at position {position + 1}")
        return node

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, spelled: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"the expression ends too early (expected {spelled or 'more'})")
        if spelled is not None and token[1] != spelled:
            raise ExpressionError(f"expected {spelled!r} at position {token[2] + 1}, "
                                  f"found {token[1]!r}")
        self.at += 1
        return token

    def expression(self) -> Node:
        node = self.primary()
        while (token := self.peek()) is not None and token[1] in (".", "["):
            self.take()
            if token[1] == ".":
                kind, spelled, position = self.take()
                if kind != "ident":
                    raise ExpressionError(f"expected a property name at position {position + 1}")
                node = Index(node, Literal(spelled))
            else:
                node = Index(node, self.expression())
                self.take("]")
        return node

    def primary(self) -> Node:
        kind, spelled, position = self.take()
        if kind == "string":
            return Literal(spelled[1:-1].replace("''", "'"))
        if kind == "number":
            return Literal(float(spelled))
        if kind != "ident":
            raise ExpressionError(f"unexpected {spelled!r} at position {position + 1}")
        following = self.peek()
        if following is not None and following[1] == "(":
            self.take("(")
            lowered = spelled.lower()
            if lowered not in self.functions:
                raise ExpressionError(f"unknown function '{spelled}' (allowed: "
                                      f"{', '.join(sorted(self.functions))})")
            args: list[Node] = []
            if (self.peek() or ("", "", 0))[1] != ")":
                args.append(self.expression())
                while (self.peek() or ("", "", 0))[1] == ",":
                    self.take(",")
                    args.append(self.expression())
            self.take(")")
            check_arity(lowered, spelled, len(args))
            return Call(lowered, spelled, tuple(args))
        lowered = spelled.lower()
        if lowered in ("true", "false"):
            return Literal(lowered == "true")
        if lowered == "null":
            return Literal(None)
        if lowered not in self.names:
            allowed = ", ".join(sorted(self.names.values())) or "none here"
            raise ExpressionError(f"unknown name '{spelled}' (allowed: {allowed})")
        return Name(lowered)


ARITY: dict[str, tuple[int, int]] = {
    "and": (2, 99), "or": (2, 99), "not": (1, 1), "xor": (2, 2),
    "eq": (2, 2), "ne": (2, 2), "lt": (2, 2), "le": (2, 2), "gt": (2, 2), "ge": (2, 2),
    "in": (2, 99), "notin": (2, 99), "contains": (2, 2), "containsvalue": (2, 2),
    "startswith": (2, 2), "endswith": (2, 2), "lower": (1, 1), "upper": (1, 1),
    "format": (1, 99), "coalesce": (1, 99), "length": (1, 1), "join": (2, 2),
    "replace": (3, 3), "split": (2, 2),
    "always": (0, 0), "canceled": (0, 0), "failed": (0, 99), "succeeded": (0, 99),
    "succeededorfailed": (0, 99),
}
GENERAL_FUNCTIONS = tuple(name for name in ARITY if name not in STATUS_FUNCTIONS)


def check_arity(name: str, spelled: str, count: int) -> None:
    low, high = ARITY[name]
    if not low <= count <= high:
        wanted = f"{low}" if low == high else f"at least {low}" if high == 99 else \
            f"{low} to {high}"
        raise ExpressionError(f"{spelled}() takes {wanted} argument(s), got {count}")


def parse(text: str, *, names: Sequence[str] = ("variables",),
          status_functions: bool = True) -> Node:
    """Parse `text`; a name other than `names` or a function outside the subset is an error."""
    functions = GENERAL_FUNCTIONS + (STATUS_FUNCTIONS if status_functions else ())
    return Parser(text, names, functions).parse()


# --- type conversion --------------------------------------------------------------------------

def to_bool(value: Value) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def to_number(value: Value) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(text)
        except ValueError:
            return math.nan
    return math.nan


def to_string(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int | float):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "Array"
    return "Object"


class ConversionFailed(Exception):
    pass


def convert_like(left: Value, right: Value) -> Value:
    """`right` converted to the type of `left`, as `eq` and the comparisons do."""
    if isinstance(left, bool):
        return to_bool(right)
    if isinstance(left, int | float):
        number = to_number(right)
        if math.isnan(number):
            raise ConversionFailed
        return number
    if isinstance(left, str):
        if isinstance(right, list | dict):
            raise ConversionFailed
        return to_string(right)
    if left is None:
        if right is None or right == "":
            return None
        raise ConversionFailed
    return right


def equal(left: Value, right: Value) -> bool:
    try:
        converted = convert_like(left, right)
    except ConversionFailed:
        return False
    if isinstance(left, str):
        return left.casefold() == str(converted).casefold()
    if isinstance(left, list | dict):
        return left is right
    return bool(left == converted)


def compare(left: Value, right: Value, name: str) -> int:
    try:
        converted = convert_like(left, right)
    except ConversionFailed:
        raise ExpressionError(f"{name}(): cannot compare {to_string(left)!r} with "
                              f"{to_string(right)!r}") from None
    if isinstance(left, str):
        text, other = left.casefold(), str(converted).casefold()
        return (text > other) - (text < other)
    if isinstance(left, bool | int | float):
        number, another = float(left), float(converted)
        return (number > another) - (number < another)
    raise ExpressionError(f"{name}(): cannot order {to_string(left)!r}")


# --- evaluation -------------------------------------------------------------------------------

StatusFunction = Callable[[Sequence[str]], bool]


@dataclass
class Context:
    """What an expression can see: named values (`variables`, `parameters` …) and, at run
    time, the status functions (`succeeded()` …) of the stage, job or step being decided."""

    names: Mapping[str, Value]
    status: Mapping[str, StatusFunction] | None = None


def lookup(container: Value, key: Value) -> Value:
    if isinstance(container, Mapping):
        text = to_string(key)
        if text in container:
            return container[text]
        folded = text.casefold()
        for name, value in container.items():
            if name.casefold() == folded:
                return value
        return None
    if isinstance(container, list):
        number = to_number(key)
        if math.isnan(number) or not number.is_integer():
            return None
        position = int(number)
        return container[position] if 0 <= position < len(container) else None
    return None


def evaluate(node: Node, context: Context) -> Value:
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Name):
        return lookup(context.names, node.name)
    if isinstance(node, Index):
        return lookup(evaluate(node.base, context), evaluate(node.key, context))
    return call(node, context)


def format_text(pattern: str, args: Sequence[Value]) -> str:
    def replace(found: re.Match[str]) -> str:
        if found.group() == "{{":
            return "{"
        if found.group() == "}}":
            return "}"
        position = int(found.group(1))
        if position >= len(args):
            raise ExpressionError(f"format(): no argument {{{position}}}")
        return to_string(args[position])
    return re.sub(r"\{\{|\}\}|\{(\d+)\}", replace, pattern)


def call(node: Call, context: Context) -> Value:
    name = node.name
    if name in STATUS_FUNCTIONS:
        if context.status is None:
            raise ExpressionError(f"{node.spelled}() is only known at run time")
        names = [to_string(evaluate(arg, context)) for arg in node.args]
        return context.status[name](names)
    if name == "and":
        return all(to_bool(evaluate(arg, context)) for arg in node.args)
    if name == "or":
        return any(to_bool(evaluate(arg, context)) for arg in node.args)
    args = [evaluate(arg, context) for arg in node.args]
    if name == "not":
        return not to_bool(args[0])
    if name == "xor":
        return to_bool(args[0]) != to_bool(args[1])
    if name == "eq":
        return equal(args[0], args[1])
    if name == "ne":
        return not equal(args[0], args[1])
    if name in ("lt", "le", "gt", "ge"):
        order = compare(args[0], args[1], node.spelled)
        return {"lt": order < 0, "le": order <= 0, "gt": order > 0, "ge": order >= 0}[name]
    if name == "in":
        return any(equal(args[0], other) for other in args[1:])
    if name == "notin":
        return not any(equal(args[0], other) for other in args[1:])
    if name == "contains":
        return to_string(args[1]).casefold() in to_string(args[0]).casefold()
    if name == "containsvalue":
        items = args[0].values() if isinstance(args[0], dict) else args[0]
        if not isinstance(items, list) and not isinstance(args[0], dict):
            return equal(args[0], args[1])
        return any(equal(item, args[1]) for item in items)
    if name == "startswith":
        return to_string(args[0]).casefold().startswith(to_string(args[1]).casefold())
    if name == "endswith":
        return to_string(args[0]).casefold().endswith(to_string(args[1]).casefold())
    if name == "lower":
        return to_string(args[0]).lower()
    if name == "upper":
        return to_string(args[0]).upper()
    if name == "format":
        return format_text(to_string(args[0]), args[1:])
    if name == "coalesce":
        return next((value for value in args if value is not None and value != ""), None)
    if name == "length":
        return float(len(args[0])) if isinstance(args[0], str | list | dict) else 0.0
    if name == "join":
        items = args[1] if isinstance(args[1], list) else [args[1]]
        return to_string(args[0]).join(to_string(item) for item in items)
    if name == "replace":
        return to_string(args[0]).replace(to_string(args[1]), to_string(args[2]))
    if name == "split":
        return to_string(args[0]).split(to_string(args[1]))
    raise ExpressionError(f"unknown function '{node.spelled}'")  # parse() refuses it first

