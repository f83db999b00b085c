"""A scripted expert that answers compact-world tasks with the real tools, wastefully on purpose.

Its transcripts are the base model's supervised data, and they are *scripted transcripts*, not
model outputs. The expert always ends with the right answer, but like an untrained agent it often
wastes calls: it lists a company's folder first, searches and then reads the same file anyway,
re-reads a file, or opens a wrong file (the near-identical twin company, a neighbouring quarter)
before the right one. A model imitating it is right sometimes and wasteful often, which leaves
reinforcement learning something to remove.

Four more habits are off by default (the committed base checkpoint's transcripts have none): reading
a task's independent reports together in one turn (sometimes; one call per turn stays the habit),
a verbose, partly redundant reasoning segment before a turn's calls or answer, one more call once
the answer is known, and, on ``SLOW_ROUTE_TYPES``, the slower route to a figure (search for it,
then read the file it is in). The reasoning items need a tokenizer with turn markers.

Figures are compared with the calculator (``a - b``, then the sign): a figure is one slot token to
the model (see ``tokenizer``), so its size is visible only through an arithmetic result's sign.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field

from rftkit.course.world import Task, World, report_path
from rftkit.protocol import FunctionCallItem, FunctionCallOutput
from rftkit.toolserver.corpus import Corpus
from rftkit.toolserver.registry import ToolContext, ToolInputError
from tools_service.tools import toolbox

LABEL_KEYS = {
    "revenue": "revenue",
    "operating income": "operating_income",
    "net income": "net_income",
    "headcount": "headcount",
}
Q = r"(\d{4}-Q[1-4])"
_LABEL = r"(.+?)"
PATTERNS = {
    "lookup": re.compile(rf"What was the {_LABEL} of (.+) in {Q} \("),
    "difference": re.compile(rf"By how much did the {_LABEL} of (.+) change from {Q} to {Q} \("),
    "growth": re.compile(rf"percentage change in the {_LABEL} of (.+) from {Q} to {Q} \("),
    "comparison": re.compile(rf"the higher {_LABEL} in {Q}: (.+) or (.+)\?$"),
    "best_company": re.compile(
        rf"^Of (.+), (.+) and (.+), take the company with the highest {_LABEL} in {Q}\."
        rf" What was its {_LABEL} in that quarter"
    ),
    "best_quarter": re.compile(
        rf"^In the quarter of (\d{{4}}) in which (.+) had its highest revenue, what was its"
        rf" {_LABEL} \("
    ),
}

FIRST_NAME = {  # which group of each pattern holds the first company name
    "lookup": 1,
    "difference": 1,
    "growth": 1,
    "comparison": 2,
    "best_company": 0,
    "best_quarter": 1,
}


@dataclass(frozen=True)
class Habits:
    """How wasteful the expert is; each is the chance of one habit per figure or per task."""

    list_first: float = 0.4
    search_then_read: float = 0.4
    reread: float = 0.2
    wrong_file: float = 0.15
    search_only: float = 0.35  # fetch a figure with search instead of read_file
    parallel: float = 0.0  # per task: read its independent reports together, in one turn
    reasoning: float = 0.0  # per turn: a reasoning segment before the calls or the answer
    explore_after: float = 0.0  # per task: re-read a report once the answer is known
    slow_route: float = 0.0  # per figure on SLOW_ROUTE_TYPES: search, then read_file


PERFECT = Habits(0.0, 0.0, 0.0, 0.0, 0.0)
BASE_HABITS = Habits(parallel=0.3, reasoning=0.5, explore_after=0.3, slow_route=0.5)
"""The base checkpoint's expert: every habit RL can remove, none so often that it is the rule
(parallel reads on 30% of tasks, so sequential stays the habit; reasoning before half the turns)."""


SLOW_ROUTE_TYPES = ("lookup", "comparison")
"""Task types on which the ``slow_route`` habit searches before reading (the path is known)."""


def metric_key(label: str) -> str:
    """'operating income' -> 'operating_income', 'Cloud segment revenue' -> 'segment:cloud'."""
    if label.endswith(" segment revenue"):
        return "segment:" + label.removesuffix(" segment revenue").lower()
    return LABEL_KEYS[label]


@dataclass
class Episode:
    """One scripted rollout: the Responses-API items, the tool calls made, and the answer."""

    task: Task
    items: list[dict] = field(default_factory=list)
    read: dict[str, str] = field(default_factory=dict)  # path -> file text already seen

    @property
    def tool_calls(self) -> int:
        return sum(1 for item in self.items if item.get("type") == "function_call")


class ScriptedExpert:
    """Solves a task by calling the course's tools in-process on the compact corpus."""

    def __init__(self, world: World, corpus: Corpus, habits: Habits, rng: random.Random):
        self.world, self.corpus, self.habits, self.rng = world, corpus, habits, rng
        self.by_name = {c.name: c for c in world.companies}

    def solve(self, task: Task) -> Episode:
        episode = Episode(task, [{"role": "user", "content": task.question}])
        ctx = ToolContext(corpus=self.corpus, trace_id=f"scripted_{task.id}")
        answer = self._answer(task, episode, ctx)
        if episode.read and self._chance(self.habits.explore_after):
            self._call(episode, ctx, "read_file", path=self.rng.choice(sorted(episode.read)))
        self._think(episode, "I have what I need. I have the answer, so I answer now.")
        episode.items.append({"role": "assistant", "content": answer})
        return episode

    def _chance(self, habit: float) -> bool:
        """A new habit's draw; none at all when it is off, so the default transcripts (and the
        committed checkpoint's recipe) see the random stream they always saw."""
        return habit > 0 and self.rng.random() < habit

    def _think(self, episode: Episode, text: str) -> None:
        if self._chance(self.habits.reasoning):
            summary = [{"type": "summary_text", "text": text}]
            episode.items.append({"type": "reasoning", "summary": summary})

    # -- tool calls -------------------------------------------------------------------------
    def _call(self, episode: Episode, ctx: ToolContext, name: str, **arguments) -> str:
        return self._calls(episode, ctx, [(name, arguments)])[0]

    def _calls(self, episode: Episode, ctx: ToolContext, calls: list[tuple[str, dict]]) -> list:
        """One turn: the calls back to back, then their outputs in the same order."""
        plan = " and ".join(name for name, _ in calls)
        self._think(episode, f"I need more information. I call {plan}, then I read the output.")
        first = len(episode.items)
        call_ids = [f"call_{first + number}" for number in range(len(calls))]
        outputs = []
        for call_id, (name, arguments) in zip(call_ids, calls, strict=True):
            try:
                outputs.append(toolbox[name](ctx, arguments))
            except ToolInputError as exc:
                outputs.append(str(exc))
            arguments_text = json.dumps(arguments)
            episode.items.append(
                FunctionCallItem(call_id=call_id, name=name, arguments=arguments_text).as_item()
            )
        for call_id, output in zip(call_ids, outputs, strict=True):
            episode.items.append(FunctionCallOutput(call_id=call_id, output=output).as_item())
        return outputs

    def _read_together(self, episode: Episode, ctx: ToolContext, paths: list[str]) -> None:
        """The ``parallel`` habit: read the task's unread independent reports in one turn."""
        paths = [p for p in dict.fromkeys(paths) if p not in episode.read]
        if len(paths) < 2 or not self._chance(self.habits.parallel):
            return
        texts = self._calls(episode, ctx, [("read_file", {"path": p}) for p in paths])
        episode.read.update(zip(paths, texts, strict=True))

    def _figure(self, episode: Episode, ctx: ToolContext, slug: str, quarter: str, key: str):
        """The figure's text, fetched the way this expert's habits dictate."""
        path = f"reports/{slug}/{quarter}.md"
        slow = episode.task.task_type in SLOW_ROUTE_TYPES and path not in episode.read
        if slow and self._chance(self.habits.slow_route):
            self._call(episode, ctx, "search", query=f"{slug} {quarter} {key}")
            episode.read[path] = self._call(episode, ctx, "read_file", path=path)
            return _value(episode.read[path], slug, quarter, key)
        if path in episode.read:
            text = episode.read[path]
            if self.rng.random() < self.habits.reread:
                text = self._call(episode, ctx, "read_file", path=path)
            return _value(text, slug, quarter, key)
        habits = self.habits
        if self.rng.random() < habits.wrong_file:
            self._call(episode, ctx, "read_file", path=self._wrong_path(slug, quarter))
        if self.rng.random() < habits.search_only:
            arguments = {"query": f"{slug} {quarter} {key}"}
            if self.rng.random() < 0.5:
                arguments["top_k"] = 1
            hits = self._call(episode, ctx, "search", **arguments)
            if self.rng.random() >= habits.search_then_read:
                return _value(hits, slug, quarter, key)
        text = self._call(episode, ctx, "read_file", path=path)
        episode.read[path] = text
        if self.rng.random() < habits.reread:
            self._call(episode, ctx, "read_file", path=path)
        return _value(text, slug, quarter, key)

    def _wrong_path(self, slug: str, quarter: str) -> str:
        """A near miss: the twin company's report, or the neighbouring quarter's."""
        company = next(c for c in self.world.companies if c.slug == slug)
        twins = [
            c
            for c in self.world.companies
            if c is not company
            and (c.name.startswith(company.name) or company.name.startswith(c.name))
        ]
        if twins and self.rng.random() < 0.6:
            return report_path(self.rng.choice(twins), quarter)
        quarters = self.world.quarters
        index = quarters.index(quarter)
        neighbour = quarters[index + 1] if index + 1 < len(quarters) else quarters[index - 1]
        return report_path(company, neighbour)

    def _calc(self, episode: Episode, ctx: ToolContext, expression: str) -> str:
        return self._call(episode, ctx, "calculator", expression=expression)

    # -- strategies per task type -----------------------------------------------------------
    def _answer(self, task: Task, episode: Episode, ctx: ToolContext) -> str:
        kind = task.task_type
        if kind == "multi_hop":
            kind = "best_company" if task.question.startswith("Of ") else "best_quarter"
        match = PATTERNS[kind].search(task.question)
        if match is None:
            raise ValueError(f"task {task.id}: question does not match the {kind} template")
        groups = match.groups()
        # A year's quarter names are in no question: a best-quarter task lists them first (the
        # model's vocabulary has no quarters, it copies them from what it has seen).
        if self.rng.random() < self.habits.list_first or kind == "best_quarter":
            first = self._slug(groups[FIRST_NAME[kind]])
            self._call(episode, ctx, "list_files", directory=f"reports/{first}/")
        self._read_together(episode, ctx, self._independent_reports(kind, groups))
        return getattr(self, f"_{kind}")(episode, ctx, *groups)

    def _independent_reports(self, kind: str, groups: tuple[str, ...]) -> list[str]:
        """The reports a task needs whatever they say (a multi-hop task's target report depends
        on the first hop, so it is not one of them)."""
        if kind in ("difference", "growth"):
            _, name, *quarters = groups
            pairs = [(name, quarter) for quarter in quarters]
        elif kind == "comparison":
            _, quarter, *names = groups
            pairs = [(name, quarter) for name in names]
        elif kind == "best_company":
            pairs = [(name, groups[4]) for name in groups[:3]]
        elif kind == "best_quarter":
            year, name, _ = groups
            pairs = [(name, q) for q in self.world.quarters if q.startswith(year)]
        else:
            return []
        return [f"reports/{self._slug(name)}/{quarter}.md" for name, quarter in pairs]

    def _slug(self, name: str) -> str:
        if name not in self.by_name:
            raise ValueError(f"no company named {name!r} in world {self.world.seed}")
        return self.by_name[name].slug

    def _lookup(self, episode, ctx, label, name, quarter):
        return self._figure(episode, ctx, self._slug(name), quarter, metric_key(label))

    def _difference(self, episode, ctx, label, name, first, second):
        slug, key = self._slug(name), metric_key(label)
        before = self._figure(episode, ctx, slug, first, key)
        after = self._figure(episode, ctx, slug, second, key)
        return self._calc(episode, ctx, f"{after} - {before}")

    def _growth(self, episode, ctx, label, name, first, second):
        slug, key = self._slug(name), metric_key(label)
        old = self._figure(episode, ctx, slug, first, key)
        new = self._figure(episode, ctx, slug, second, key)
        return self._calc(episode, ctx, f"round(({new} - {old}) * 100 / {old}, 1)")

    def _comparison(self, episode, ctx, label, quarter, first, second):
        key = metric_key(label)
        a = self._figure(episode, ctx, self._slug(first), quarter, key)
        b = self._figure(episode, ctx, self._slug(second), quarter, key)
        return first if not self._calc(episode, ctx, f"{a} - {b}").startswith("-") else second

    def _best_company(self, episode, ctx, one, two, three, rank_label, quarter, target_label):
        rank, target = metric_key(rank_label), metric_key(target_label)
        best = one
        best_value = self._figure(episode, ctx, self._slug(one), quarter, rank)
        for name in (two, three):
            value = self._figure(episode, ctx, self._slug(name), quarter, rank)
            if self._calc(episode, ctx, f"{value} - {best_value}").startswith("-"):
                continue
            best, best_value = name, value
        return self._figure(episode, ctx, self._slug(best), quarter, target)

    def _best_quarter(self, episode, ctx, year, name, target_label):
        slug, target = self._slug(name), metric_key(target_label)
        quarters = [q for q in self.world.quarters if q.startswith(year)]
        best = quarters[0]
        best_value = self._figure(episode, ctx, slug, best, "revenue")
        for quarter in quarters[1:]:
            value = self._figure(episode, ctx, slug, quarter, "revenue")
            if self._calc(episode, ctx, f"{value} - {best_value}").startswith("-"):
                continue
            best, best_value = quarter, value
        return self._figure(episode, ctx, slug, best, target)


def _value(text: str, slug: str, quarter: str, key: str) -> str:
    """The figure on the ``<slug> <quarter> <key> <value>`` line of a file or search hit."""
    for line in text.splitlines():
        fields = line.rsplit(": ", 1)[-1].split()
        if fields[:3] == [slug, quarter, key] and len(fields) == 4:
            return fields[3]
    raise ValueError(f"no line for {slug} {quarter} {key} in tool output")
