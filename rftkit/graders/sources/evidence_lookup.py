"""Whether the rollout looked anything up: 1 if it read or searched the reports, else 0.5.

Self-contained (submitted as a ``python`` grader's source). The rubric's rule 10: a right answer
with no tool call that could have found the figure (no ``read_file`` or ``search``) is a guess
and only partly right. A task whose ``item.min_tool_calls`` is 0 needs no evidence. Multiplied
into the reward, it halves a lucky guess and leaves a wrong answer at 0. How *many* calls were
made is the efficiency term's business (``tool_efficiency``), not this one's.
"""

LOOKUPS = {"read_file", "search"}


def called(tool_call):
    function = tool_call.get("function") if isinstance(tool_call, dict) else None
    return function.get("name") if isinstance(function, dict) else None


def grade(sample, item):
    if int(item.get("min_tool_calls", 1)) <= 0:
        return 1.0
    made = {called(call) for call in sample.get("output_tools") or []}
    return 1.0 if made & LOOKUPS else 0.5
