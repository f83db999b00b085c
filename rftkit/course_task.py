"""Moved to :mod:`rftkit.course.task`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit.course.task")
