"""The course's tool names, read from its tool service's toolbox: the one definition the scripted
policies, the local job's course-world check and the analysis parameters are given."""

from __future__ import annotations

from tools_service.tools import toolbox

COURSE_TOOLS: tuple[str, ...] = tuple(tool.name for tool in toolbox)
"""``("search", "list_files", "read_file", "calculator")``, in the toolbox's order."""

EVIDENCE_TOOL = "read_file"
"""The course tool whose successful call opens an evidence file (its ``path`` argument)."""
