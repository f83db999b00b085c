"""The shipped reference label set: complete, on the scale, provenance recorded, reproducible."""

import importlib.util
from pathlib import Path

from rftkit.course import reference_labels
from rftkit.course.reference_labels import SCALE, load_items, load_labels, load_reference_set
from rftkit.protocol import Sample

ROOT = Path(__file__).resolve().parents[1]


def test_every_item_has_one_label_on_the_scale_with_provenance():
    reference = load_reference_set()
    assert 60 <= len(reference) <= 80
    assert set(reference["label"]) == set(SCALE)
    assert reference["label"].value_counts(normalize=True).min() >= 0.1
    assert set(reference["labeller"]) == {"rftkit authors (assistant-labelled, read item by item)"}
    assert set(reference["rubric_version"]) == {reference_labels.rubric_version()}
    assert reference["note"].str.len().min() > 3


def test_items_carry_what_a_grader_receives():
    for item in load_items():
        sample = Sample.model_validate(item["sample"])
        assert sample.output_text == item["answer"]
        assert len(sample.output_tools) == len(item["trace"])
        assert item["item"]["reference_answer"] == item["reference_answer"]


def test_rubric_names_its_version_and_scale():
    text = reference_labels.rubric()
    assert reference_labels.rubric_version() == reference_labels.RUBRIC_VERSION == "1"
    for name in reference_labels.SCALE_NAMES.values():
        assert name in text


def test_labels_load_into_a_labelling_session(tmp_path):
    from rftkit.evaluation.labelling import LabelSession

    session = LabelSession(load_items(), reference_labels.SCALE_NAMES)
    path = tmp_path / "labels.csv"
    load_labels().to_csv(path, index=False)
    assert session.load(path) == len(session.items) and session.done
    shipped = LabelSession(load_items(), reference_labels.SCALE_NAMES)
    assert shipped.load(reference_labels.labels_path()) == len(shipped.items)


def test_candidate_generator_reproduces_items_byte_for_byte(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "make_reference_candidates", ROOT / "scripts" / "make_reference_candidates.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path / "items.jsonl")
    module.main()
    shipped = (ROOT / "rftkit" / "course" / "reference_labels" / "items.jsonl").read_bytes()
    assert (tmp_path / "items.jsonl").read_bytes() == shipped


def test_rubric_model_grader_is_a_valid_config_using_the_rubric():
    from rftkit.graders import validate_grader

    grader = reference_labels.rubric_model_grader()
    validate_grader(grader)
    assert grader["input"][0]["content"] == reference_labels.rubric()


def test_trace_summary_is_the_labellers_view():
    items = {item["id"]: item for item in load_items()}
    assert reference_labels.trace_summary(items["r012"]) == "(no tool calls)"
    summary = reference_labels.trace_summary(items["r002"])
    assert summary.startswith("read reports/eskorix-media/2024-Q2.md; read ")
    assert summary.endswith("calculator -> 57.8")


def test_the_blind_second_pass_labels_every_item_and_its_agreement_is_computed():
    from rftkit.course.reference_labels import SECOND_PASS, inter_rater_agreement, load_labels
    from rftkit.evaluation.agreement import cohen_kappa

    second = load_labels(SECOND_PASS)
    assert list(second["item_id"]) == [f"r{n:03d}" for n in range(1, 73)]
    assert second["labeller"].str.contains("blind to grader scores").all()
    report = inter_rater_agreement()
    first = load_labels()
    assert report.kappa.kappa == cohen_kappa(list(first["label"]), list(second["label"]))
    assert report.n_items == 72
