"""The old import paths of what moved (the course out of the kit, the tool-server library out of
``tools_service``) keep working for one release: each warns with a DeprecationWarning naming the
new home, and gives the very objects the new path gives."""

import importlib
import subprocess
import sys
import warnings

import pytest

MOVED = {
    "rftkit.course_task": ["rftkit.course.task"],
    "rftkit.course_session": ["rftkit.course.session"],
    "rftkit.exercises": ["rftkit.course.exercises"],
    "rftkit.job_exercises": ["rftkit.course.job_exercises"],
    "rftkit.reference_labels": ["rftkit.course.reference_labels"],
    "rftkit.world": ["rftkit.course.world"],
    "rftkit.world.cli": ["rftkit.course.world.cli"],
    "rftkit.world.facts": ["rftkit.course.world.facts"],
    "rftkit.world.names": ["rftkit.course.world.names"],
    "rftkit.world.numbers": ["rftkit.course.world.numbers"],
    "rftkit.world.render": ["rftkit.course.world.render"],
    "rftkit.world.tasks": ["rftkit.course.world.tasks"],
    "rftkit.graders.course": ["rftkit.course.grader"],
    "rftkit.rollouts.scripted": ["rftkit.course.scripted"],
    "rftkit.local.expert": ["rftkit.course.expert"],
    "rftkit.local.worlds": ["rftkit.course.worlds"],
    "rftkit.local.evaluate": ["rftkit.course.evaluate"],
    "rftkit.local.inprocess": ["rftkit.course.inprocess"],
    "rftkit.local.rewards": ["rftkit.course.rewards"],
    "rftkit.local.cli": ["rftkit.course.local_cli"],
    "rftkit.local.pretrain": [
        "rftkit.course.pretrain",
        "rftkit.local.checkpoint",
        "rftkit.local.batches",
    ],
    "tools_service.registry": ["rftkit.toolserver.registry"],
    "tools_service.guards": ["rftkit.toolserver.guards"],
    "tools_service.resources": ["rftkit.toolserver.resources"],
    "tools_service.state": ["rftkit.toolserver.state"],
    "tools_service.corpus": ["rftkit.toolserver.corpus"],
}
NAMES = {  # what the repo imported from each old path before the move, by name
    "rftkit.course_task": ["serve_course_task", "CourseTaskSize", "write_course_task"],
    "rftkit.world": ["generate_world", "generate_tasks", "write_corpus", "Task", "STYLES"],
    "rftkit.graders.course": ["course_grader", "naive_grader", "python_grader"],
    "rftkit.rollouts.scripted": ["ScriptedPolicy", "COURSE_TOOLS"],
    "rftkit.local.pretrain": [
        "BASE_CHECKPOINT", "BASE_MODEL", "load_model", "PretrainConfig", "build_tokenizer",
        "scripted_transcripts", "batch_tensors", "length_buckets", "train_cycle", "pretrain",
    ],
    "tools_service.registry": ["Toolbox", "ToolContext", "ToolInputError"],
    "tools_service.state": ["InMemoryStateStore", "ModalDictStateStore", "StateStore"],
    "tools_service.corpus": ["Corpus", "words"],
    "tools_service.resources": ["PerThread", "Resources"],
}  # fmt: skip
DATA_NAMES = ["COURSE_INSTRUCTIONS", "course_dataset", "course_tool_specs", "write_course_files"]


def _fresh_import(name: str):
    """Import the old path ``name`` as if for the first time, recording the warnings. Only the
    re-export modules are dropped from ``sys.modules``: nothing imports them any more, so no other
    test's objects change."""
    for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[loaded]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(name)
    return module, [w for w in caught if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_warns_and_gives_the_same_objects(old):
    new = [importlib.import_module(n) for n in MOVED[old]]
    module, warned = _fresh_import(old)
    assert any(old in str(w.message) and MOVED[old][0] in str(w.message) for w in warned), warned
    public = [
        (name, value)
        for target in new
        for name, value in vars(target).items()
        if name in getattr(module, "__all__", ()) or name in NAMES.get(old, ())
    ]
    for name in NAMES.get(old, ()):
        assert hasattr(module, name), f"{old}.{name} is gone"
    for name, value in public:
        if hasattr(module, name) and any(getattr(t, name, None) is value for t in new):
            assert getattr(module, name) is value, f"{old}.{name} is not {MOVED[old]}'s object"


@pytest.mark.parametrize("old", sorted(MOVED))
def test_every_name_defined_at_the_new_home_is_reachable_at_the_old_one(old):
    module, _ = _fresh_import(old)
    for target in (importlib.import_module(n) for n in MOVED[old]):
        defined = [
            name
            for name, value in vars(target).items()
            if not name.startswith("_") and getattr(value, "__module__", target.__name__)
            == target.__name__
            and not isinstance(value, type(sys))
        ]
        missing = [n for n in defined if getattr(module, n, None) is not getattr(target, n)]
        assert missing == [], f"{old} lacks {missing} of {target.__name__}"


@pytest.mark.parametrize("name", DATA_NAMES)
def test_the_course_dataset_names_still_resolve_from_rftkit_data_with_a_warning(name):
    import rftkit.data
    from rftkit.course import dataset

    with pytest.warns(DeprecationWarning, match=f"rftkit.course.dataset.{name}"):
        value = getattr(rftkit.data, name)
    assert value is getattr(dataset, name)


def test_the_new_paths_import_without_a_warning():
    """Nothing at the new homes goes through an old path (in a fresh interpreter, so no module of
    this one is re-imported)."""
    new = sorted({n for targets in MOVED.values() for n in targets} | {"rftkit.course.dataset"})
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", f"import {', '.join(new)}"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_trl_course_task_keeps_its_old_name_with_a_warning(tmp_path):
    from rftkit.trl.__main__ import course_task

    with pytest.warns(DeprecationWarning, match="rftkit.course.task.trl_course_task"):
        task = course_task("https://ws--rftkit-tools.modal.run", str(tmp_path))
    assert task.training_file.is_relative_to(tmp_path)
    assert len(task.items("train")) + len(task.items("validation")) == 100
