"""The course's task world: seeded fictional quarterly reports and exact-answer questions.

Typical use::

    world = generate_world(seed=0)
    write_corpus(world, "corpus", style="full")  # or "compact" for a tiny model
    tasks = generate_tasks(world, seed=0)

Other seeds give unseen companies, which makes them held-out worlds.
"""

from .facts import Company, QuarterFacts, Restatement, World, generate_world
from .numbers import growth_percent
from .render import STYLES, corpus_index, report_path, write_corpus
from .tasks import TASK_TYPES, Task, generate_tasks

__all__ = [
    "STYLES",
    "TASK_TYPES",
    "Company",
    "QuarterFacts",
    "Restatement",
    "Task",
    "World",
    "corpus_index",
    "generate_tasks",
    "generate_world",
    "growth_percent",
    "report_path",
    "write_corpus",
]
