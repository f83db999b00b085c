"""Moved to :mod:`rftkit._util.jsonsafe`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit._util.jsonsafe")
