"""Moved to :mod:`rftkit.course.job_exercises`; this path warns and goes in the next release."""

from rftkit._util.moved import alias

alias(__name__, "rftkit.course.job_exercises")
