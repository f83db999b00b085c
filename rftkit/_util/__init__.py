"""The kit's private utilities: bounded JSON parsing, a background event loop, answer kinds, URL
masking, lazy package exports and the aliases of moved modules.

Private because a team's project should not build on them: they change with the kit's needs. Of
``rftkit`` they import only :mod:`rftkit.errors` (a contract in ``pyproject.toml``), so every layer
may use them.
"""
