"""Conditions and template expressions evaluate as Azure Pipelines evaluates them."""

from __future__ import annotations

import pytest

from labtui.targets.local.azpipelines.errors import ExpressionError
from labtui.targets.local.azpipelines.expressions import Context, evaluate, parse

VARIABLES = {"Build.SourceBranch": "refs/heads/Master", "count": "3", "empty": "",
             "flag": "true", "name": "it's"}


def value(text: str, **names: object) -> object:
    scope = {"variables": VARIABLES, **names}
    return evaluate(parse(text, names=tuple(scope), status_functions=False), Context(scope))


@pytest.mark.parametrize(("text", "expected"), [
    ("eq(variables['Build.SourceBranch'], 'refs/heads/master')", True),  # ignoring case
    ("ne(variables['build.sourcebranch'], 'refs/heads/master')", False),  # names too
    ("eq(variables.count, 3)", True),
    ("eq(3, variables.count)", True),  # the right side converts to a number
    ("eq(3, 'three')", False),  # a failed conversion is not equal
    ("eq(true, 'false')", True),  # a non-empty string is true
    ("eq(variables.empty, '')", True),
    ("and(true, eq(1, 1), not(false))", True),
    ("or(false, 0, '')", False),
    ("in(variables.count, '1', '2', '3')", True),
    ("notIn('a', 'b', 'c')", True),
    ("contains(variables['Build.SourceBranch'], 'MASTER')", True),
    ("startsWith(variables['Build.SourceBranch'], 'refs/heads/')", True),
    ("endsWith('file.yml', '.YML')", True),
    ("eq(variables.name, 'it''s')", True),  # '' is a quote inside a string
    ("gt(variables.count, 2)", True),
    ("le(1.5, 1.5)", True),
    ("xor(true, false)", True),
    ("eq(variables.missing, '')", True),  # an unknown variable is null, equal to ''
    ("format('{0}-{1}', 'a', 7)", "a-7"),
    ("coalesce(variables.missing, '', 'fallback')", "fallback"),
    ("lower('ABC')", "abc"),
    ("length('four')", 4.0),
    ("join(',', parameters.items)", "x,y"),
    ("containsValue(parameters.items, 'Y')", True),
    ("parameters.settings.level", 2.0),
    ("parameters['settings']['level']", 2.0),
    ("True", True),
    ("eq(null, '')", True),
])
def test_expressions_evaluate_as_azure_does(text: str, expected: object) -> None:
    assert value(text, parameters={"items": ["x", "y"], "settings": {"level": 2.0}}) == expected


def test_strings_nest_and_commas_inside_strings_are_text() -> None:
    assert value("eq(format('{0},{1}', 'a', 'b'), 'a,b')") is True


def test_status_functions_come_from_the_run() -> None:
    node = parse("and(succeeded(), not(canceled()))")
    status = {"succeeded": lambda names: True, "canceled": lambda names: False}
    assert evaluate(node, Context({}, status)) is True  # type: ignore[arg-type]


def test_a_status_function_at_compile_time_is_refused() -> None:
    with pytest.raises(ExpressionError, match="unknown function 'succeeded'"):
        parse("succeeded()", names=("parameters",), status_functions=False)


@pytest.mark.parametrize(("text", "message"), [
    ("eq(variables.a", "ends too early"),
    ("eq(variables.a, 'b'))", r"unexpected '\)'"),
    ("iif(true, 1, 2)", "unknown function 'iif'"),
    ("eq('a')", r"eq\(\) takes 2 argument"),
    ("and(true)", r"and\(\) takes at least 2"),
    ("eq(dependencies.A.result, 'x')", "unknown name 'dependencies'"),
    ("eq('open, 'x')", "unterminated string"),
    ("eq(1 2)", r"expected '\)'"),
    ("", "empty expression"),
    ("eq(1, 2) && true", "unexpected '&'"),
])
def test_what_does_not_parse_is_named(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse(text)


def test_ordering_what_cannot_convert_is_an_error() -> None:
    with pytest.raises(ExpressionError, match="cannot compare"):
        value("lt(1, 'x')")
