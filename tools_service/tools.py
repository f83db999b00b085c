"""The course's tools over the quarterly-report corpus: search, list_files, read_file, calculator.

Each is a plain typed function whose docstring is the manual the model reads. ``read_file`` keeps
per-rollout state (a read budget, keyed by ``trace_id`` through ``ctx.state``), because real agent
tools have side effects and the trainer's retries must not apply them twice.
"""

from __future__ import annotations

import ast
import heapq
from decimal import (
    ROUND_HALF_EVEN,
    Decimal,
    Inexact,
    localcontext,
)

from rftkit.toolserver.corpus import words
from rftkit.toolserver.registry import Toolbox, ToolContext, ToolInputError

READ_BUDGET = 20
MAX_LINE_CHARS = 200
MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 100
"""Numbers in an expression lie between 1e-100 and 1e100 in size (or are 0)."""
PRECISION = 10_000
"""Significant digits the calculator carries. 200 characters of numbers between 1e-100 and 1e100
cannot make a sum, difference or product that needs as many, so those are exact; only a quotient
whose decimals never end (1 / 3) is cut, here, far beyond the 10 decimals a result shows, and so
is arithmetic on such a quotient."""

toolbox = Toolbox()


@toolbox.tool
def search(ctx: ToolContext, query: str, top_k: int = 5) -> str:
    """Find lines of the quarterly reports that contain the words of a query.

    Lines are ranked by how many query words they contain; each hit shows the file path and line
    number, so read_file can open the whole report.

    Args:
        query: Words to look for, e.g. 'beltas-machines 2025-Q1 revenue'. Case does not matter.
        top_k: How many lines to return, 1 to 20.
    """
    if not 1 <= top_k <= 20:
        raise ToolInputError(f"top_k must be between 1 and 20, got {top_k}", param="top_k")
    wanted = words(query)
    if not wanted:
        raise ToolInputError("query has no words to look for", param="query")
    scored = [(len(wanted & line.words), line) for line in ctx.corpus.lines]
    hits = heapq.nsmallest(top_k, (s for s in scored if s[0]), key=lambda s: (-s[0], s[1].path))
    if not hits:
        return f"No lines match {query!r}."
    return "\n".join(f"{h.path}:{h.number}: {h.text[:MAX_LINE_CHARS]}" for _, h in hits)


@toolbox.tool
def list_files(ctx: ToolContext, directory: str = "") -> str:
    """List the files and folders in a directory of the corpus (folders end with '/').

    Args:
        directory: A folder relative to the corpus root, e.g. 'reports/'; empty for the top level.
    """
    return "\n".join(ctx.corpus.list(directory))


@toolbox.tool
def read_file(ctx: ToolContext, path: str) -> str:
    """Read one report in full. Each rollout may read at most 20 files, so search first.

    Args:
        path: The file's path relative to the corpus root, e.g. 'reports/acme/2025-Q1.md'.
    """
    text = ctx.corpus.read(path)
    reads = ctx.state.setdefault("reads", [])
    if len(reads) >= READ_BUDGET:
        raise ToolInputError(
            f"read budget of {READ_BUDGET} files for this task is used up; answer with what you "
            "have",
            param="path",
            code="read_budget_exhausted",
        )
    reads.append(ctx.corpus.normalise(path))
    return text


@toolbox.tool
def calculator(expression: str) -> str:
    """Evaluate arithmetic exactly: + - * / ( ) on decimal numbers, and round(x, digits).

    round() rounds half to even, as the answers do. Example: 'round((4134.9 - 4043.9) * 100 /
    4043.9, 1)' gives the percentage change to one decimal.

    Args:
        expression: The arithmetic to evaluate, e.g. '4134.9 - 4043.9'.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolInputError(
            f"expression is longer than {MAX_EXPRESSION_CHARS} characters", param="expression"
        )
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise ToolInputError(
            f"cannot parse {expression!r} as arithmetic", param="expression"
        ) from None
    with localcontext() as decimal_context:
        decimal_context.prec = PRECISION
        decimal_context.clear_flags()  # the copy inherits the thread's flags
        value = _evaluate(tree.body, expression)
        return _format(value, cut=bool(decimal_context.flags[Inexact]))


def _divide(a: Decimal, b: Decimal) -> Decimal:
    """``a / b``: exact when the quotient's decimals end, else cut at PRECISION digits."""
    if not b:
        raise ToolInputError("division by zero", param="expression")
    return a / b


_OPERATORS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: _divide,
}


def _number(node: ast.Constant, expression: str) -> Decimal:
    """The literal exactly as written: ``0.1`` is one tenth, not the float nearest to it."""
    if isinstance(node.value, int):
        value = Decimal(node.value)
    else:  # the source text, since the float ast made of it has already lost digits
        value = Decimal(ast.get_source_segment(expression, node) or repr(node.value))
    if value and abs(value.adjusted()) > MAX_EXPONENT:
        raise ToolInputError(
            f"numbers must lie between 1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT} in size",
            param="expression",
        )
    return value


def _evaluate(node: ast.AST, expression: str) -> Decimal:
    """Walk the parsed expression; anything but numbers, + - * /, signs and round() is refused."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _number(node, expression)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _evaluate(node.operand, expression)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _evaluate(node.left, expression), _evaluate(node.right, expression)
        return _OPERATORS[type(node.op)](left, right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "round"
        and not node.keywords
        and len(node.args) in (1, 2)
    ):
        digits = _evaluate(node.args[1], expression) if len(node.args) == 2 else Decimal(0)
        if digits != digits.to_integral_value() or not 0 <= digits <= 10:
            raise ToolInputError(
                "round() takes a whole number of digits from 0 to 10", param="expression"
            )
        value = _evaluate(node.args[0], expression)
        with localcontext():  # its own flags: rounding asked for is no cut
            return value.quantize(Decimal(1).scaleb(-int(digits)), ROUND_HALF_EVEN)
    shown = ast.unparse(node) if isinstance(node, ast.expr) else type(node).__name__
    raise ToolInputError(
        f"{shown!r} is not allowed; use numbers without thousands separators, + - * / ( ) and "
        "round(x, digits)",
        param="expression",
    )


def _format(value: Decimal, cut: bool) -> str:
    """Plain notation with every digit of an exact result; a result that was ``cut`` (a quotient
    whose decimals never end) and not rounded by round() shows 10 decimals at most, rounded half
    to even, trailing zeros dropped. Never '-0'."""
    long = cut and value.as_tuple().exponent < -10
    if long:
        value = value.quantize(Decimal(1).scaleb(-10), ROUND_HALF_EVEN)
    if value == 0:
        value = abs(value)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if long and "." in text else text
