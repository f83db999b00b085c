"""The ``multi`` grader's ``calculate_output`` language, parsed and evaluated without ``eval``.

Documented surface (docs/hosted-api.md §5.4): numbers, the sub-grader keys as variables,
``+ - * / ^``, unary minus, parentheses, and ``min max abs floor ceil exp sqrt log``. Anything
else — ``**``, attribute access, strings, unknown names or functions — is a
:class:`FormulaError` naming the position. A recursive-descent parser over a regex tokenizer is ~100
lines and rejects by construction; ``ast.parse`` would need a whitelist of Python's far larger
grammar and still disagree on ``^``.

Precedence, loosest first: ``+ -`` (left), ``* /`` (left), unary ``-``, ``^`` (right), so
``-2^2 == -4`` and ``2^3^2 == 512`` as in mathematics.

Every function's arity is checked when the formula is parsed: ``min``/``max`` take two or more
arguments (``min(a)`` is refused here rather than failing on every sample), the others exactly one.
The formula is bounded — at most :data:`MAX_FORMULA_CHARS` characters, parentheses and unary signs
nested at most :data:`MAX_NESTING` deep, a tree at most :data:`MAX_DEPTH` deep — so no formula can
exhaust the stack of the process that grades.

Example::

    >>> Formula.parse("0.7 * correct + 0.3 * max(fmt, 0)").evaluate({"correct": 1, "fmt": 0.5})
    0.85
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rftkit.errors import RFTKitError

FUNCTIONS: dict[str, tuple[Callable[..., float], int | None]] = {
    # name: (implementation, arity; None = two or more, as Python's min/max on numbers)
    "min": (min, None),
    "max": (max, None),
    "abs": (abs, 1),
    "floor": (math.floor, 1),
    "ceil": (math.ceil, 1),
    "exp": (math.exp, 1),
    "sqrt": (math.sqrt, 1),
    "log": (math.log, 1),
}

MAX_FORMULA_CHARS = 10_000
MAX_NESTING = 50
"""Parentheses, unary signs and ``^`` chains: each level costs the recursive parser a few frames."""
MAX_DEPTH = 200
"""Depth of the parsed tree (``a + b + ...`` chains nest to the left); evaluation recurses it."""

_SPACE = re.compile(r"\s*")
_TOKEN = re.compile(
    r"(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>[-+*/^(),]))"
)


class FormulaError(ValueError, RFTKitError):
    """A formula that does not parse, or names something it may not; ``position`` is 0-based."""

    def __init__(self, formula: str, position: int, reason: str) -> None:
        super().__init__(f"{reason} at position {position} in {formula!r}")
        self.formula = formula
        self.position = position
        self.reason = reason


class FormulaEvaluationError(ArithmeticError, RFTKitError):
    """A formula that parsed but cannot be computed on these scores (missing variable, 1/0)."""


Node = tuple  # ("num", v) | ("var", name) | ("neg", a) | (op, a, b) | ("call", name, args)


@dataclass(frozen=True)
class _Token:
    kind: str  # number | name | op | end
    text: str
    position: int


def _tokenize(formula: str) -> list[_Token]:
    if len(formula) > MAX_FORMULA_CHARS:
        raise FormulaError(
            formula[:80] + "...", 0, f"{len(formula)} characters; the limit is {MAX_FORMULA_CHARS}"
        )
    tokens: list[_Token] = []
    pos = _SPACE.match(formula, 0).end()
    while pos < len(formula):
        match = _TOKEN.match(formula, pos)
        if match is None:
            raise FormulaError(formula, pos, f"unexpected character {formula[pos]!r}")
        kind = match.lastgroup or "op"
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        pos = _SPACE.match(formula, match.end()).end()
    tokens.append(_Token("end", "", len(formula)))
    return tokens


class _Parser:
    def __init__(self, formula: str) -> None:
        self.formula = formula
        self.tokens = _tokenize(formula)
        self.index = 0
        self.nesting = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def fail(self, reason: str) -> FormulaError:
        return FormulaError(self.formula, self.current.position, reason)

    def take(self, text: str) -> bool:
        if self.current.kind == "op" and self.current.text == text:
            self.index += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.take(text):
            found = self.current.text or "end of formula"
            raise self.fail(f"expected {text!r}, found {found!r}")

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise self.fail("empty formula")
        node = self.sum()
        if self.current.kind != "end":
            raise self.fail(f"unexpected {self.current.text!r}")
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.current.kind == "op" and self.current.text in ("+", "-"):
            op = self.current.text
            self.index += 1
            node = (op, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.current.kind == "op" and self.current.text in ("*", "/"):
            op = self.current.text
            self.index += 1
            if self.current.kind == "op" and self.current.text in ("*", "/"):
                raise self.fail(f"unexpected {self.current.text!r} (use ^ for powers)")
            node = (op, node, self.unary())
        return node

    def unary(self) -> Node:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.fail(f"nested more than {MAX_NESTING} deep")
        try:
            if self.take("-"):
                return ("neg", self.unary())
            if self.take("+"):
                return self.unary()
            return self.power()
        finally:
            self.nesting -= 1

    def power(self) -> Node:
        base = self.atom()
        if self.take("^"):
            return ("^", base, self.unary())
        return base

    def atom(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.index += 1
            value = float(token.text)
            if not math.isfinite(value):
                raise FormulaError(self.formula, token.position, f"{token.text} is too large")
            return ("num", value)
        if token.kind == "name":
            self.index += 1
            if self.take("("):
                return self.call(token)
            if token.text in FUNCTIONS:
                raise FormulaError(self.formula, token.position, f"{token.text} needs arguments")
            return ("var", token.text)
        if self.take("("):
            node = self.sum()
            self.expect(")")
            return node
        found = token.text or "end of formula"
        raise self.fail(f"expected a number, a variable or '(', found {found!r}")

    def call(self, name: _Token) -> Node:
        if name.text not in FUNCTIONS:
            allowed = ", ".join(FUNCTIONS)
            raise FormulaError(
                self.formula, name.position, f"unknown function {name.text!r} (allowed: {allowed})"
            )
        args = [self.sum()] if not (self.current.kind == "op" and self.current.text == ")") else []
        while self.take(","):
            args.append(self.sum())
        self.expect(")")
        arity = FUNCTIONS[name.text][1]
        if (arity is None and len(args) < 2) or (arity is not None and len(args) != arity):
            wanted = "at least 2" if arity is None else str(arity)
            raise FormulaError(
                self.formula,
                name.position,
                f"{name.text} takes {wanted} argument(s), got {len(args)}",
            )
        return ("call", name.text, tuple(args))


def _depth(root: Node) -> int:
    """The tree's depth, walked without recursion (the tree may be deeper than the stack)."""
    deepest, stack = 0, [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if node[0] in ("num", "var"):
            continue
        children = node[2] if node[0] == "call" else node[1:]
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _variables(node: Node) -> set[str]:
    kind = node[0]
    if kind == "var":
        return {node[1]}
    if kind == "num":
        return set()
    if kind == "call":
        return set().union(*(_variables(arg) for arg in node[2]))
    return set().union(*(_variables(child) for child in node[1:]))


def _evaluate(node: Node, scores: Mapping[str, float]) -> float:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "var":
        if node[1] not in scores:
            raise FormulaEvaluationError(f"variable {node[1]!r} is not a sub-grader key")
        return float(scores[node[1]])
    if kind == "neg":
        return -_evaluate(node[1], scores)
    if kind == "call":
        function = FUNCTIONS[node[1]][0]
        return float(function(*(_evaluate(arg, scores) for arg in node[2])))
    left, right = _evaluate(node[1], scores), _evaluate(node[2], scores)
    if kind == "+":
        return left + right
    if kind == "-":
        return left - right
    if kind == "*":
        return left * right
    if kind == "/":
        return left / right
    power = left**right
    if isinstance(power, complex):  # a negative base to a fractional power: not a real number
        raise ValueError(f"{left!r} ^ {right!r} is not a real number")
    return power


@dataclass(frozen=True)
class Formula:
    """A parsed ``calculate_output``; parse once, evaluate per sample."""

    text: str
    tree: Node

    @classmethod
    def parse(cls, text: str) -> Formula:
        if not isinstance(text, str):
            raise FormulaError(repr(text)[:80], 0, "the formula must be a string")
        tree = _Parser(text).parse()
        if _depth(tree) > MAX_DEPTH:
            raise FormulaError(text, 0, f"the expression nests more than {MAX_DEPTH} deep")
        return cls(text, tree)

    @property
    def variables(self) -> set[str]:
        return _variables(self.tree)

    def evaluate(self, scores: Mapping[str, float]) -> float:
        """The value on ``scores``; FormulaEvaluationError for a missing variable or bad math."""
        try:
            value = _evaluate(self.tree, scores)
        except (ZeroDivisionError, ValueError, OverflowError) as exc:
            raise FormulaEvaluationError(f"{exc} while evaluating {self.text!r}") from None
        if isinstance(value, complex) or not math.isfinite(value):
            raise FormulaEvaluationError(f"{self.text!r} gave {value!r}, not a finite number")
        return float(value)
