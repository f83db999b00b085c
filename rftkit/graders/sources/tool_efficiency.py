"""How economically the rollout gathered its evidence: 1 at the minimum number of tool calls.

Self-contained (submitted as a ``python`` grader's source). ``len(sample.output_tools)`` is the
number of tool calls: in rftkit's local engine ``sample.output_tools`` lists every call the
rollout made. On OpenAI's service it may hold only the last turn's calls (docs/hosted-api.md §11.5);
there an endpoint grader that reads the tool service's ``GET /traces/{trace_id}`` log plays
this role. Fewer calls than ``item.min_tool_calls`` means the answer cannot rest on the evidence
(a lucky guess): credit falls linearly to 0 at no calls. More calls decay as min/calls (as
1/(1 + calls) for a task that needs none).
"""


def grade(sample, item):
    needed = int(item.get("min_tool_calls", 1))
    made = len(sample.get("output_tools") or [])
    if needed <= 0:
        return 1.0 / (1 + made)
    if made < needed:
        return made / needed * 0.5
    return needed / made
