"""The labelling session (pure logic) and its widget view, driven headless by clicking buttons."""

import pytest

from rftkit.evaluation.labelling import LabelSession, LabelView

SCALE = {0.0: "wrong", 0.5: "partly right", 1.0: "right"}


def _items(n: int = 4) -> list[dict]:
    return [{"id": f"r{i:02d}", "question": f"Q{i}?", "answer": f"<b>{i}</b>"} for i in range(n)]


def test_record_undo_and_progress():
    session = LabelSession(_items(), SCALE, labeller="tester")
    assert session.current["id"] == "r00" and session.progress == (0, 4)
    assert session.record(1.0) == "r00"
    assert session.record(0.5) == "r01"
    assert session.progress == (2, 4) and session.current["id"] == "r02"
    assert session.undo() == "r01"
    assert session.current["id"] == "r01" and session.label_of("r01") is None
    for label in (0.0, 0.0, 1.0):
        session.record(label)
    assert session.done and session.current is None
    with pytest.raises(ValueError, match="already labelled"):
        session.record(1.0)
    with pytest.raises(ValueError, match="not one of"):
        LabelSession(_items(), SCALE).record(0.7)
    assert LabelSession(_items(), SCALE).undo() is None


def test_dataframe_keeps_item_order_and_unlabelled_rows():
    session = LabelSession(_items(3), SCALE)
    session.record(0.5)
    frame = session.to_dataframe()
    assert frame["id"].tolist() == ["r00", "r01", "r02"]
    assert frame["label"].tolist() == [0.5, None, None]


def test_save_and_load_round_trip(tmp_path):
    session = LabelSession(_items(), SCALE, labeller="tester")
    for label in (1.0, 0.0, 0.5):
        session.record(label)
    path = session.save(tmp_path / "labels.csv")
    assert path.read_text().splitlines() == [
        "task_id,answer,label,labeller",
        "r00,<b>0</b>,1.0,tester", "r01,<b>1</b>,0.0,tester", "r02,<b>2</b>,0.5,tester",
    ]  # fmt: skip
    resumed = LabelSession(_items(), SCALE)
    assert resumed.load(path) == 3
    assert resumed.progress == (3, 4) and resumed.current["id"] == "r03"
    assert resumed.undo() == "r02"


def test_a_task_with_several_answers_saves_its_task_id_and_loads_back_by_answer(tmp_path):
    # The κ labels of a project: several answers per task, each its own item.
    items = [
        {"id": "p01#0", "task_id": "p01", "answer": "49"},
        {"id": "p01#1", "task_id": "p01", "answer": "50"},
        {"id": "p02#0", "task_id": "p02", "answer": "Team"},
    ]
    session = LabelSession(items, SCALE, labeller="me")
    for label in (1.0, 0.0, 1.0):
        session.record(label)
    path = session.save(tmp_path / "labels.csv")
    assert path.read_text().splitlines() == [
        "task_id,answer,label,labeller", "p01,49,1.0,me", "p01,50,0.0,me", "p02,Team,1.0,me",
    ]  # fmt: skip
    resumed = LabelSession(list(reversed(items)), SCALE)
    assert resumed.load(path) == 3
    assert [resumed.label_of(i) for i in ("p01#0", "p01#1", "p02#0")] == [1.0, 0.0, 1.0]
    path.write_text("task_id,answer,label,labeller\np01,51,1.0,me\n")
    with pytest.raises(ValueError, match=r"line 2: field 'task_id': unknown item \('p01', '51'\)"):
        resumed.load(path)


def test_files_saved_with_the_old_item_id_column_still_load(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text("item_id,label,labeller\nr01,0.5,x\nr00,1.0,x\n")
    session = LabelSession(_items(), SCALE)
    assert session.load(path) == 2
    assert session.label_of("r00") == 1.0 and session.label_of("r01") == 0.5


def test_load_refuses_bad_lines_naming_file_line_field_and_loses_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("item_id,label,labeller\nr00,1.0,x\nr01,maybe,x\n")
    session = LabelSession(_items(), SCALE)
    session.record(0.0)
    with pytest.raises(ValueError, match=r"bad.csv: line 3: field 'label': 'maybe'"):
        session.load(path)
    assert session.progress == (1, 4) and session.label_of("r00") == 0.0
    path.write_text("item_id,label\nzz,1.0\n")
    with pytest.raises(ValueError, match=r"line 2: field 'item_id': unknown item 'zz'"):
        session.load(path)
    path.write_text("id,score\n")
    with pytest.raises(ValueError, match=r"line 1: header lacks field\(s\) \['item_id', 'label'\]"):
        session.load(path)


def test_items_need_unique_ids():
    with pytest.raises(ValueError, match=r"items\[1\] has no 'id' field"):
        LabelSession([{"id": "a"}, {"x": 1}], SCALE)
    with pytest.raises(ValueError, match=r"repeated: \['a'\]"):
        LabelSession([{"id": "a"}, {"id": "a"}], SCALE)


def test_view_buttons_drive_the_session_headless():
    session = LabelSession(_items(3), SCALE)
    view = LabelView(session)
    assert [b.description for b in view.buttons] == ["[1] wrong", "[2] partly right", "[3] right"]
    assert "&lt;b&gt;0&lt;/b&gt;" in view.item_html.value  # item text is escaped, not rendered
    view.buttons[2].click()
    view.buttons[0].click()
    assert session.label_of("r00") == 1.0 and session.label_of("r01") == 0.0
    assert view.progress.value == 2 and view.status.value == "2/3 labelled"
    view.undo_button.click()
    assert session.progress == (1, 3) and "Q1?" in view.item_html.value
    view.buttons[1].click()
    view.buttons[1].click()
    assert session.done and all(b.disabled for b in view.buttons)
    view.buttons[0].click()  # a click after the end changes nothing
    assert session.label_of("r02") == 0.5


def test_view_keyboard_shortcuts():
    session = LabelSession(_items(3), SCALE)
    view = LabelView(session)
    view.shortcut.value = "3"
    view.shortcut.value = "2"
    assert [session.label_of(i) for i in ("r00", "r01")] == [1.0, 0.5]
    assert view.shortcut.value == ""
    view.shortcut.value = "u"
    assert session.progress == (1, 3)
    view.shortcut.value = "9"
    assert session.progress == (1, 3) and "unknown key '9'" in view.status.value
