"""Moved to :mod:`rftkit.course.worlds`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit.course.worlds")
