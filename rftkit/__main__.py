"""``python -m rftkit`` is the ``rftkit`` command."""

from rftkit.cli import main

raise SystemExit(main())
