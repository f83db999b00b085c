"""Moved to :mod:`rftkit.toolserver.corpus`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit.toolserver.corpus")
