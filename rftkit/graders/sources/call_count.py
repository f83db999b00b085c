def grade(sample, item):
    """The number of tool calls the rollout made."""
    return float(len(sample.get("output_tools") or []))
