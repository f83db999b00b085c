"""Rollouts: drive any policy against real tool endpoints and record every step as a trace.

Typical use::

    traces = run_rollouts_sync(items, policy, tools=job_tools, grader=grader_config, repeats=4)
    save_traces(traces, "runs/baseline/traces.jsonl")
    traces_frame(traces)
"""

from .engine import RolloutEngine, new_trace_id, run_rollouts, run_rollouts_sync
from .grading import Grader, GraderFn
from .policy import Policy, PolicyTurn, ToolCallRequest
from .solver import Solution, SolverPolicy, solver_policies
from .traces import load_traces, save_traces, spans_frame, traces_frame

__all__ = [
    "Grader",
    "GraderFn",
    "Policy",
    "PolicyTurn",
    "RolloutEngine",
    "Solution",
    "SolverPolicy",
    "ToolCallRequest",
    "load_traces",
    "new_trace_id",
    "run_rollouts",
    "run_rollouts_sync",
    "save_traces",
    "solver_policies",
    "spans_frame",
    "traces_frame",
]
