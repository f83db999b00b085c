"""``rftkit.toolserver.layout``: an image's files listed offline, or a refusal naming why.

The generated project's own tests serve its tools from these listings (tests/test_new_project.py);
here, the listing rules themselves: Docker's COPY and .dockerignore, Modal's mount layers."""

from __future__ import annotations

import modal
import pytest

from rftkit.toolserver.layout import (
    LayoutError,
    dockerfile_cmd,
    dockerfile_files,
    materialise,
    modal_image_files,
)


@pytest.fixture
def context(tmp_path):
    for name, text in {
        "pkg/__init__.py": "", "pkg/tools.py": "x = 1\n", "pkg/__pycache__/tools.pyc": "",
        "data/orders.db": "db", "data/tasks.jsonl": "{}", "README.md": "r", "notes.txt": "n",
    }.items():  # fmt: skip
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / ".dockerignore").write_text("*\n!pkg\n!data\n**/__pycache__\ndata/tasks.jsonl\n")
    return tmp_path


def test_copy_takes_what_dockerignore_lets_in_at_the_workdir(context):
    (context / "Dockerfile").write_text(
        "FROM python:3.11-slim\nWORKDIR /app\n# a comment\nCOPY . /app/\n"
        "COPY notes.txt /etc/notes\n"
        'CMD ["uvicorn", "pkg.service:create", \\\n     "--port", "8000"]\n'
    )
    (context / ".dockerignore").write_text(
        (context / ".dockerignore").read_text() + "!notes.txt\n"
    )
    files = dockerfile_files(context / "Dockerfile")
    assert sorted(files) == [
        "/app/data/orders.db", "/app/notes.txt", "/app/pkg/__init__.py", "/app/pkg/tools.py",
        "/etc/notes",
    ]  # fmt: skip
    assert dockerfile_cmd(context / "Dockerfile") == [
        "uvicorn", "pkg.service:create", "--port", "8000",
    ]  # fmt: skip
    root = materialise(files, context / "image")
    assert (root / "app/data/orders.db").read_text() == "db"
    assert not (root / "app/data/tasks.jsonl").exists()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("ADD . /app/", "ADD is not listed here"),
        ("COPY --from=build /x /app/", "COPY options"),
        ("COPY pkg/*.py /app/", "a wildcard source"),
        ("COPY README.md /app/", "COPY README.md: nothing in the build context"),
    ],
)
def test_what_cannot_be_listed_faithfully_is_refused_by_line(context, line, message):
    (context / "Dockerfile").write_text(f"FROM python:3.11-slim\n{line}\n")
    with pytest.raises(LayoutError, match=rf"Dockerfile:2: {message}"):
        dockerfile_files(context / "Dockerfile")


def test_a_shell_form_cmd_is_refused(context):
    (context / "Dockerfile").write_text("FROM python:3.11-slim\nCMD uvicorn pkg:app\n")
    with pytest.raises(LayoutError, match="CMD is not in exec form"):
        dockerfile_cmd(context / "Dockerfile")


def test_modal_mount_layers_are_listed_and_a_copy_layer_is_refused(context):
    base = modal.Image.debian_slim(python_version="3.11")
    image = base.add_local_dir(context / "data", "/root/data", ignore=["tasks.jsonl"])
    image = image.add_local_file(context / "notes.txt", "/root/notes.txt")
    image = image.add_local_python_source("rftkit")
    files = modal_image_files(image)
    assert files["/root/data/orders.db"] == context / "data" / "orders.db"
    assert "/root/data/tasks.jsonl" not in files and "/root/notes.txt" in files
    assert "/root/rftkit/toolserver/layout.py" in files
    copied = base.add_local_dir(context / "data", "/root/data", copy=True)
    with pytest.raises(LayoutError, match="copy=True layer"):
        modal_image_files(copied.add_local_python_source("rftkit"))
