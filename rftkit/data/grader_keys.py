"""The keys of ``item`` a python grader's source reads, found by reading its syntax tree.

A template grader says what it reads (``{{item.reference_answer}}``); a python grader hides it in
code, and a key missing from the lines surfaces only as a KeyError inside grading, where it scores
0 everywhere. This reads the source without running it: the second parameter of ``grade`` is the
item, and so is any name it is assigned to or passed as (to a function of the same module).
Each ``item["key"]`` and ``item.get("key")`` is a read; ``item["a"]["b"]`` reads the path
``("a", "b")``. A subscript read guarded by ``"key" in item`` counts as optional, like ``.get``.
A key given by an expression (``item[name]``) cannot be known without running the code, and is
reported as such.

Example::

    reads = python_item_reads(source)
    reads.required        # {("reference_answer",)}: item[...] with no guard
    reads.optional        # {("min_tool_calls",)}: item.get(...) or guarded by `in`
    reads.undetermined    # ["line 12: item[name]"]
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

GRADE = "grade"


@dataclass
class ItemReads:
    """What a grader reads from ``item``: key paths, and reads whose key is unknowable."""

    required: set[tuple[str, ...]] = field(default_factory=set)
    optional: set[tuple[str, ...]] = field(default_factory=set)
    undetermined: list[str] = field(default_factory=list)


def python_item_reads(source: str) -> ItemReads:
    """The item keys ``source`` reads (see the module docstring); SyntaxError if it is not
    Python, and nothing read if it defines no ``grade(sample, item)``."""
    tree = ast.parse(source)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    grade = functions.get(GRADE)
    reads = ItemReads()
    if grade is None or len(grade.args.args) < 2:
        return reads
    item_names = {(GRADE, grade.args.args[1].arg)}
    changed = True
    while changed:  # follow the item into names it is bound to and functions it is passed to
        changed = False
        for name, function in functions.items():
            aliases = {alias for owner, alias in item_names if owner == name}
            for found in _aliases(function, aliases, functions):
                if found not in item_names:
                    item_names.add(found)
                    changed = True
    for name, function in functions.items():
        aliases = {alias for owner, alias in item_names if owner == name}
        if aliases:
            _collect(function, aliases, reads)
    return reads


def _aliases(
    function: ast.FunctionDef, aliases: set[str], functions: dict[str, ast.FunctionDef]
) -> set[tuple[str, str]]:
    """(function, parameter or local name) pairs that hold the item, seen from ``function``."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found |= {(function.name, t.id) for t in node.targets if isinstance(t, ast.Name)}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            callee = functions.get(node.func.id)
            if callee is None:
                continue
            params = [a.arg for a in callee.args.args]
            passed = [(params[i], a) for i, a in enumerate(node.args[: len(params)])]
            passed += [(k.arg, k.value) for k in node.keywords if k.arg in params]
            found |= {
                (callee.name, param)
                for param, argument in passed
                if isinstance(argument, ast.Name) and argument.id in aliases
            }
    return found


def _collect(function: ast.FunctionDef, aliases: set[str], reads: ItemReads) -> None:
    """Add every read of an alias in ``function`` to ``reads``."""
    inner: set[int] = set()  # subscripts already counted as part of a longer path
    guarded = {
        node.left.value
        for node in ast.walk(function)
        if isinstance(node, ast.Compare)
        and isinstance(node.left, ast.Constant)
        and isinstance(node.left.value, str)
        and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
        and any(isinstance(c, ast.Name) and c.id in aliases for c in node.comparators)
    }
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and id(node) not in inner:
            path, root = _subscript_path(node, inner)
            if isinstance(root, ast.Name) and root.id in aliases:
                if path is None:
                    reads.undetermined.append(f"line {node.lineno}: {ast.unparse(node)}")
                elif path[0] in guarded:
                    reads.optional.add(path)
                else:
                    reads.required.add(path)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in aliases
        ):
            key = node.args[0] if node.args else None
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                reads.optional.add((key.value,))
            else:
                reads.undetermined.append(f"line {node.lineno}: {ast.unparse(node)}")


def _subscript_path(
    node: ast.Subscript, inner: set[int]
) -> tuple[tuple[str, ...] | None, ast.expr]:
    """``item["a"]["b"]`` → (("a", "b"), the ``item`` node); None for the path if the first key
    is not a string literal (a computed deeper key ends the path there). Marks the nested
    subscripts in ``inner`` so they are not counted again."""
    keys: list[str | None] = []
    current: ast.expr = node
    while isinstance(current, ast.Subscript):
        inner.add(id(current))
        key = current.slice
        literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
        keys.append(key.value if literal else None)
        current = current.value
    keys.reverse()
    if keys and keys[0] is None:
        return None, current
    known: list[str] = []
    for key in keys:
        if key is None:
            break
        known.append(key)
    return tuple(known), current
