"""Read a run from any backend: metrics events and rollout traces into frames, plots, a report."""
