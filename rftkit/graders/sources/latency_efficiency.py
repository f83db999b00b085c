"""How quickly the rollout got its answer, as the trainer sees latency: 1 at the fastest route.

Self-contained (submitted as a ``python`` grader's source). Latency is counted in model turns:
each turn is a round trip to the model, each tool call adds half a turn (a round trip to a tool),
and every ``REASONING_TOKENS_PER_TURN`` reasoning tokens add one more. Calls issued together in
one turn share that turn, so reading two reports at once is faster than one after the other.
The fastest route for ``item.min_tool_calls`` calls is all of them in one turn, then the answer;
the score is that latency over the rollout's (fewer calls than the minimum fall linearly to 0, as
in ``tool_efficiency``).

Turns and reasoning tokens come from ``sample.trajectory``, which rftkit's rollout engine adds to
every sample it grades. OpenAI's service does not send it: there every call counts as its own turn
and reasoning is not seen, which leaves a calls-only efficiency term.
"""

import math

CALL_COST = 0.5
REASONING_TOKENS_PER_TURN = 16


def count(value, default):
    """A non-negative whole count, or ``default`` for anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        return default
    return max(0, int(min(value, 1e9)))


def grade(sample, item):
    needed = int(item.get("min_tool_calls", 1))
    calls = len(sample.get("output_tools") or [])
    if calls < needed:
        return calls / needed * 0.5
    trajectory = sample.get("trajectory")
    if not isinstance(trajectory, dict):
        trajectory = {}
    turns = max(1, count(trajectory.get("turns"), calls + 1))
    reasoning = count(trajectory.get("reasoning_tokens"), 0)
    fastest = (2 if needed > 0 else 1) + CALL_COST * needed
    latency = turns + CALL_COST * calls + reasoning / REASONING_TOKENS_PER_TURN
    return min(1.0, fastest / latency)
