"""Cursor pages in the API's list shape: ``{"object": "list", "data", "has_more", ...}``.

The SDK's auto-pagination asks for the next page with ``after=<id of the last item>``; ``page``
answers that for any list already in the order the route returns it.
"""

from __future__ import annotations

from typing import Any


def page(items: list[dict[str, Any]], *, after: str | None, limit: int) -> dict[str, Any]:
    """The ``limit`` items following the one whose id is ``after`` (from the start without it)."""
    if after is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    data = items[:limit]
    return {
        "object": "list",
        "data": data,
        "has_more": len(items) > limit,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
