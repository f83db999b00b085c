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


def test_the_readme_shows_the_committed_results_as_the_seeds_script_prints_them():
    readme = (RESULTS.parents[1] / "README.md").read_text(encoding="utf-8")
    for directory, top_p in ((RESULTS, 1.0), (RESULTS / "tuning", 1.0), (RESULTS / "tuning", 0.9)):
        table = markdown(seeds_table(load_results(directory, top_p)))
        assert table in readme, f"README lacks the table of {directory.name}, top-p {top_p}"


def test_the_readmes_top_p_sentences_are_what_the_tuning_runs_measured():
    readme = " ".join((RESULTS.parents[1] / "README.md").read_text(encoding="utf-8").split())
    full, nucleus = (load_results(RESULTS / "tuning", top_p) for top_p in (1.0, 0.9))
    assert set(full) == set(nucleus) == {0, 1, 2}

    def listed(runs, figure):
        return f"{figure(runs[0])}, {figure(runs[1])} and {figure(runs[2])}"

    def gain(run):
        return f"{run['reward_gain'] / run['reward_gain_se']:+.1f}"

    def call_cut(run):
        return f"-{run['tool_call_cut']:.1%}"

    def cpu(run):
        return run["grpo_cpu_seconds"] / 60

    def hops(run):
        return [run[when]["accuracy_by_type"]["multi_hop"] for when in ("base", "trained")]

    gains = f"gained more course reward ({listed(nucleus, gain)} SE against {listed(full, gain)})"
    cuts = f"cut more tool calls ({listed(nucleus, call_cut)} against {listed(full, call_cut)})"
    assert gains in readme and cuts in readme
    for seed in (0, 1, 2):  # "on every seed"
        a, b = nucleus[seed], full[seed]
        assert a["reward_gain"] / a["reward_gain_se"] > b["reward_gain"] / b["reward_gain_se"]
        assert a["tool_call_cut"] > b["tool_call_cut"] and cpu(a) < cpu(b)
        assert a["reasoning_token_cut"] > 0.9  # "drop almost all their reasoning tokens"
    spans = [sorted(cpu(run) for run in runs.values()) for runs in (nucleus, full)]
    lows_highs = (spans[0][0], spans[0][-1], spans[1][0], spans[1][-1])
    assert "less CPU ({:.2f} to {:.2f} minutes against {:.2f} to {:.2f})".format(*lows_highs) in (
        readme
    )
    bases = [
        {f"{run['base']['accuracy']:.1%}" for run in runs.values()} for runs in (nucleus, full)
    ]
    assert bases == [{"56.0%"}, {"46.5%"}]
    assert "right more often when its unlikely tokens are cut off (56.0% against 46.5%)" in readme
    runs = {
        (top_p, seed): run for top_p, r in ((1.0, full), (0.9, nucleus)) for seed, run in r.items()
    }
    assert all(hops(run)[0] == 0 for run in runs.values())
    solved = {key: f"{hops(run)[1]:.1%}" for key, run in runs.items() if hops(run)[1]}
    assert solved == {(0.9, 0): "2.5%"}
    assert "after it 2.5% on seed 0 with top-p 0.9 and 0% everywhere else" in readme
    # the same training as the held-out table's, on another day's machine
    heldout = load_results()
    for seed in (0, 1):
        rewards = [
            [event["data"].get("train_mean_reward") for event in run["events"]["main"]]
            for run in (heldout[seed], full[seed])
        ]
        assert rewards[0] == rewards[1]
    then = f"{cpu(full[0]):.2f} and {cpu(full[1]):.2f} CPU-minutes against"
    assert f"{then} {cpu(heldout[0]):.2f} and {cpu(heldout[1]):.2f}" in readme


def test_the_seeds_script_prints_the_tuning_tables_from_an_empty_folder(run_benchmark):
    readme = (RESULTS.parents[1] / "README.md").read_text(encoding="utf-8")
    for top_p in ("1", "0.9"):
        out = run_benchmark("local_training_seeds.py", "--worlds", "tuning", "--top-p", top_p)
        assert out.strip() in readme and out.startswith("| GRPO seed |")
