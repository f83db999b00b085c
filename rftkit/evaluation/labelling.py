"""Label items by hand for a grader-vs-human check: a pure session and a thin widget over it.

``LabelSession`` holds all the logic (which item is next, record, undo, progress, CSV save and
load) so it is tested without a browser. ``LabelView`` only wires ipywidgets buttons to it:
one button per label, an undo button, a progress bar, and a shortcut box for the keyboard
(type ``1``..``n`` or ``u`` and press Enter; buttons are also reachable with Tab + Space).

Typical use in a notebook::

    session = LabelSession(items, {0.0: "wrong", 0.5: "partly right", 1.0: "right"})
    display(LabelView(session).widget)
    ...
    session.save("my_labels.csv")

Headless (tests, CI) the same view is driven with ``view.buttons[0].click()``.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

ID_COLUMN = "task_id"
"""The id column of a saved file: what a project's κ loader (``checks.load_labels``) joins on."""
LEGACY_ID_COLUMN = "item_id"
"""What files saved before used; still read."""
ANSWER_COLUMN = "answer"
UNDO_KEY = "u"


class LabelSession:
    """Items to label in order, the labels given so far, and the order they were given in.

    ``items`` are dicts with a unique ``id_field`` (default ``"id"``); ``labels`` maps each
    allowed label value to the name shown on its button (a plain sequence names them by
    ``str``).
    """

    def __init__(
        self,
        items: Sequence[Mapping[str, Any]],
        labels: Mapping[Any, str] | Sequence[Any],
        *,
        labeller: str = "",
        id_field: str = "id",
    ) -> None:
        self.items = [dict(item) for item in items]
        self.id_field = id_field
        for index, item in enumerate(self.items):
            if id_field not in item:
                raise ValueError(f"items[{index}] has no {id_field!r} field")
        self.ids = [str(item[id_field]) for item in self.items]
        duplicates = sorted({i for i in self.ids if self.ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"item ids must be unique; repeated: {duplicates}")
        names = labels if isinstance(labels, Mapping) else {label: str(label) for label in labels}
        if not names:
            raise ValueError("labels must name at least one allowed label")
        self.labels: dict[Any, str] = dict(names)
        self.labeller = labeller
        self._given: dict[str, Any] = {}
        self._history: list[str] = []

    # -- state -------------------------------------------------------------------------------
    @property
    def current(self) -> dict[str, Any] | None:
        """The first item, in order, that has no label yet (None when all are labelled)."""
        for item_id, item in zip(self.ids, self.items, strict=True):
            if item_id not in self._given:
                return item
        return None

    @property
    def progress(self) -> tuple[int, int]:
        """(labelled, total)."""
        return len(self._given), len(self.items)

    @property
    def done(self) -> bool:
        return len(self._given) == len(self.items)

    def label_of(self, item_id: str) -> Any | None:
        """The label given to ``item_id`` so far, or None."""
        return self._given.get(str(item_id))

    # -- actions -----------------------------------------------------------------------------
    def record(self, label: Any) -> str:
        """Give the current item ``label``; returns its id. Refuses labels not on the scale."""
        if label not in self.labels:
            raise ValueError(f"label {label!r} is not one of {list(self.labels)}")
        item = self.current
        if item is None:
            raise ValueError("every item is already labelled; undo first to change one")
        item_id = str(item[self.id_field])
        self._given[item_id] = label
        self._history.append(item_id)
        return item_id

    def undo(self) -> str | None:
        """Take back the most recent label; returns the item id it belonged to, or None."""
        if not self._history:
            return None
        item_id = self._history.pop()
        del self._given[item_id]
        return item_id

    # -- persistence -------------------------------------------------------------------------
    def to_dataframe(self) -> pd.DataFrame:
        """The items with a ``label`` column (None where not labelled yet), in item order."""
        frame = pd.DataFrame(self.items)
        frame["label"] = pd.Series([self._given.get(i) for i in self.ids], dtype=object)
        return frame

    def _row_key(self, item: Mapping[str, Any], answers: bool) -> tuple[str, ...]:
        """How a saved row names ``item``: its task (the ``task_id`` field if the items have one,
        else its id) and, when the items carry answers, the answer (a task may have several)."""
        task = str(item.get(ID_COLUMN, item[self.id_field]))
        return (task, str(item[ANSWER_COLUMN])) if answers else (task,)

    @property
    def _has_answers(self) -> bool:
        return all(ANSWER_COLUMN in item for item in self.items)

    def save(self, path: str | Path) -> Path:
        """Write the labels given so far as CSV, in labelling order: ``task_id,label,labeller``,
        with an ``answer`` column after ``task_id`` when the items carry answers. That is the
        format a project's ``checks.load_labels`` reads for the κ gate."""
        path = Path(path)
        answers = self._has_answers
        by_id = dict(zip(self.ids, self.items, strict=True))
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow([ID_COLUMN, *([ANSWER_COLUMN] if answers else []), "label", "labeller"])
            for item_id in self._history:
                key = self._row_key(by_id[item_id], answers)
                writer.writerow([*key, self._given[item_id], self.labeller])
        return path

    def load(self, path: str | Path) -> int:
        """Add the labels from a CSV written by :meth:`save`; returns how many were read.

        Rows name items by ``task_id`` (and ``answer`` when the file and the items have one), or
        by ``item_id`` as files saved by older versions do. The whole file is checked before
        anything is recorded, so a bad line loses nothing; errors name the file, line and field.
        """
        path = Path(path)
        by_text = {str(label): label for label in self.labels}
        rows: list[tuple[str, Any]] = []
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            column = ID_COLUMN if ID_COLUMN in header else LEGACY_ID_COLUMN
            missing = [f for f in (column, "label") if f not in header]
            if missing:
                raise ValueError(f"{path}: line 1: header lacks field(s) {missing}")
            answers = column == ID_COLUMN and ANSWER_COLUMN in header and self._has_answers
            if column == LEGACY_ID_COLUMN:
                known = {(i,): i for i in self.ids}
            else:
                known = {self._row_key(item, answers): i
                         for i, item in zip(self.ids, self.items, strict=True)}  # fmt: skip
            columns = (column, ANSWER_COLUMN) if answers else (column,)
            for row in reader:
                where = f"{path}: line {reader.line_num}"
                key = tuple(row[c] for c in columns)
                text = row["label"]
                if key not in known:
                    shown = key[0] if len(key) == 1 else key
                    raise ValueError(f"{where}: field {column!r}: unknown item {shown!r}")
                if text not in by_text:
                    raise ValueError(
                        f"{where}: field 'label': {text!r} is not one of {list(by_text)}"
                    )
                rows.append((known[key], by_text[text]))
        for item_id, label in rows:
            if item_id not in self._given:
                self._history.append(item_id)
            self._given[item_id] = label
        return len(rows)


class LabelView:
    """A thin ipywidgets view of a :class:`LabelSession`; holds no labelling logic.

    ``fields`` are the item keys shown (in order); the widgets are attributes so tests and
    notebooks can drive them: ``buttons`` (one per label), ``undo_button``, ``shortcut``,
    ``progress``, ``item_html`` and ``widget`` (the box to display).
    """

    def __init__(self, session: LabelSession, fields: Sequence[str] = ("question", "answer")):
        self.session = session
        self.fields = tuple(fields)
        self.keys = {str(n): label for n, label in enumerate(session.labels, start=1)}
        self.buttons = [
            widgets.Button(description=f"[{key}] {session.labels[label]}", tooltip=f"key {key}")
            for key, label in self.keys.items()
        ]
        for button, label in zip(self.buttons, self.keys.values(), strict=True):
            button.on_click(lambda _, label=label: self._record(label))
        self.undo_button = widgets.Button(description=f"[{UNDO_KEY}] undo", tooltip="undo last")
        self.undo_button.on_click(lambda _: self._undo())
        self.shortcut = widgets.Text(
            placeholder=f"key 1-{len(self.keys)} or {UNDO_KEY}, then Enter",
            continuous_update=False,
        )
        self.shortcut.observe(self._on_shortcut, names="value")
        self.progress = widgets.IntProgress(min=0, max=max(len(session.items), 1))
        self.status = widgets.Label()
        self.item_html = widgets.HTML()
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.progress, self.status]),
                self.item_html,
                widgets.HBox([*self.buttons, self.undo_button]),
                self.shortcut,
            ]
        )
        self.refresh()

    def _record(self, label: Any) -> None:
        if not self.session.done:
            self.session.record(label)
        self.refresh()

    def _undo(self) -> None:
        self.session.undo()
        self.refresh()

    def _on_shortcut(self, change: dict[str, Any]) -> None:
        key = str(change["new"]).strip().lower()
        if not key:
            return
        if key == UNDO_KEY:
            self._undo()
        elif key in self.keys:
            self._record(self.keys[key])
        else:
            self.status.value = f"unknown key {key!r}: use 1-{len(self.keys)} or {UNDO_KEY}"
            self.shortcut.value = ""
            return
        self.shortcut.value = ""

    def refresh(self) -> None:
        """Show the session's current item and progress."""
        labelled, total = self.session.progress
        self.progress.value = labelled
        self.status.value = f"{labelled}/{total} labelled"
        item = self.session.current
        for button in self.buttons:
            button.disabled = item is None
        if item is None:
            self.item_html.value = "<b>All items labelled.</b> Save them with session.save(path)."
            return
        rows = "".join(
            f"<dt><b>{html.escape(field)}</b></dt>"
            f"<dd style='white-space:pre-wrap'>{html.escape(str(item.get(field, '')))}</dd>"
            for field in self.fields
        )
        self.item_html.value = f"<dl>{rows}</dl>"
