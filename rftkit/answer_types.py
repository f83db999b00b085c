"""Moved to :mod:`rftkit._util.answer_types`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit._util.answer_types")
