"""The kit's error tree and the exit codes every ``rftkit`` command returns.

Every exception the kit raises on purpose derives from :class:`RFTKitError`, so a caller can catch
"anything rftkit refused" in one clause. Each keeps the built-in base it had (``ValueError`` for
bad input, ``RuntimeError`` for a state it cannot work in, ``LookupError``, ``OSError``…), so code
that catches those keeps working. This module imports nothing else of ``rftkit``: every layer may
use it.

Exit codes (for scripts), the same for every command group:

====  =========================================================================================
0     done: checks passed, job launched or found, job succeeded
1     checks found errors (invalid data or grader, preflight failed, endpoint not ready; nothing
      launched), or the job ended failed or cancelled
2     bad input: arguments, task or data file, a missing environment variable or credential
3     the platform refused or failed a request (wind-down refusal, 4xx, 429, 5xx, unreachable)
4     ``rftkit jobs watch`` ended with the job paused
130   interrupted (Ctrl-C)
====  =========================================================================================
"""

from __future__ import annotations

from enum import IntEnum


class RFTKitError(Exception):
    """Base of every exception the kit raises on purpose (bad input, refused calls, failed jobs)."""


class ExitCode(IntEnum):
    """What a command's exit status means (the table above)."""

    OK = 0
    CHECKS_FAILED = 1
    BAD_INPUT = 2
    PLATFORM_ERROR = 3
    PAUSED = 4
    INTERRUPTED = 130
