"""Judging a task before and after training: the baseline (what the base model earns), the red team
(answers that must earn nothing), grader-human agreement, labelling sessions and rubric scales.

Each module is imported by name (``from rftkit.evaluation.baseline import run_baseline_sync``):
they pull in very different dependencies (rollouts, pandas, widgets), so the package imports none.
"""
