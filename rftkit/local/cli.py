"""Moved to :mod:`rftkit.course.local_cli`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit.course.local_cli")
