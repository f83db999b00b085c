"""The benchmark's results read back: one row per seed, the committed files included."""

import json

from rftkit.local.results import RESULTS, load_results, markdown, run_of, seeds_table


def run(gain, calls_after, reasoning_after):
    base = {"accuracy": 0.3, "tool_calls_mean": 5.0, "turns_mean": 6.0,
            "reasoning_tokens_mean": 40.0, "accuracy_by_type": {"multi_hop": 0.1}}  # fmt: skip
    trained = base | {"accuracy": 0.4, "tool_calls_mean": calls_after,
                      "reasoning_tokens_mean": reasoning_after}  # fmt: skip
    return {"reward": "latency", "base": base, "trained": trained, "reward_gain": gain,
            "reward_gain_se": 0.02, "grpo_cpu_seconds": 270.0, "peak_rss_gb": 2.1,
            "parallel_turn_share_independent": {"base": 0.1, "trained": 0.25},
            "events": {"main": [{"created_at": t} for t in (1000, 1030, 1153)]}}  # fmt: skip


def test_each_seeds_file_is_one_row(tmp_path):
    (tmp_path / "local_training.json").write_text(json.dumps(run(0.08, 3.0, 10.0)))
    (tmp_path / "local_training_seed2.json").write_text(json.dumps(run(0.05, 4.0, 30.0)))
    (tmp_path / "local_training_notes.json").write_text("{}")  # not a seed's file
    table = seeds_table(load_results(tmp_path))
    assert table.index.tolist() == [0, 2]
    assert table.loc[0, "course-reward gain"] == "+4.0 SE"
    assert table.loc[0, "tool calls / rollout"] == "5.00 -> 3.00 (-40%)"
    assert table.loc[2, "reasoning tokens / rollout"] == "40.00 -> 30.00 (-25%)"
    assert table.loc[2, "parallel share (independent types)"] == "10.0% -> 25.0%"
    assert table.loc[2, "GRPO CPU-min"] == "4.50"
    assert table.loc[2, "GRPO wall-min"] == "2.55"  # first event to last: 153 s
    lines = markdown(table).splitlines()
    assert lines[0].startswith("| GRPO seed | reward |") and len(lines) == 4
    assert lines[2].startswith("| 0 | latency | +4.0 SE |")


def test_file_names_give_the_seed_and_the_top_p():
    names = ("local_training.json", "local_training_seed12.json", "local_training_top_p0.9.json",
             "local_training_seed2_top_p0.75.json", "local_training_seedx.json",
             "local_training_top_p1.5.json", "other.json")  # fmt: skip
    assert [run_of(RESULTS / n) for n in names] == [
        (0, 1.0),
        (12, 1.0),
        (0, 0.9),
        (2, 0.75),
        None,
        None,
        None,
    ]


def test_a_sampler_reads_only_its_own_files(tmp_path):
    (tmp_path / "local_training.json").write_text(json.dumps(run(0.08, 3.0, 10.0)))
    (tmp_path / "local_training_top_p0.9.json").write_text(json.dumps(run(0.06, 2.0, 5.0)))
    (tmp_path / "local_training_seed1_top_p0.9.json").write_text(json.dumps(run(0.04, 2.0, 5.0)))
    assert seeds_table(load_results(tmp_path)).loc[0, "course-reward gain"] == "+4.0 SE"
    nucleus = seeds_table(load_results(tmp_path, top_p=0.9))
    assert nucleus.index.tolist() == [0, 1]
    assert nucleus["course-reward gain"].tolist() == ["+3.0 SE", "+2.0 SE"]


def test_the_committed_results_all_read():
    runs = load_results()
    assert set(runs) >= {0, 1, 2}
    assert len(seeds_table(runs)) == len(runs)

