"""The README's example is a test: its python block must run as written."""

from __future__ import annotations

import re

from tests.helpers import ROOT


def test_readme_example_runs() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README.md has no python example"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make book" in text and "make test" in text


def test_every_command_the_readme_shows_exists() -> None:
    # after `make book`, each `make X` is a Makefile target and each `.venv/bin/X` or `tools/X` exists
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z]+):", makefile, flags=re.M))
    shown = set(re.findall(r"\bmake ([a-z]+)\b", text))
    assert shown and shown <= targets, f"README shows make targets that do not exist: {shown - targets}"
    for tool in re.findall(r"\.venv/bin/([\w-]+)", text):
        assert (ROOT / ".venv" / "bin" / tool).exists(), f".venv/bin/{tool} is not installed by make book"
    for script in re.findall(r"\btools/[\w.]+\.py", text):
        assert (ROOT / script).is_file(), f"{script} does not exist"
