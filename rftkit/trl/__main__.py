"""``python -m rftkit.trl``: the same commands as ``rftkit trl`` (:mod:`rftkit.trl.cli`)."""

import sys

from rftkit.trl.cli import course_task, main

__all__ = ["course_task", "main"]

if __name__ == "__main__":
    sys.exit(main())
