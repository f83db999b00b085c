"""Moved to :mod:`rftkit.secrets`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit.secrets")
