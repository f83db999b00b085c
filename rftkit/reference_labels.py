"""Moved to :mod:`rftkit.course.reference_labels`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit.course.reference_labels")
