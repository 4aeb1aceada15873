"""Buttons that follow the published repository, and one header per page (_ext/published_repo.py, issue #21).

A two-page book with the course's theme settings is built twice with Jupyter Book: once as a reader builds it
(no ``BOOK_REPOSITORY``: no repository button, no Colab button, no link to any repository), once as the
GitHub workflow builds it (``BOOK_REPOSITORY=owner/name``: both buttons, pointing at that repository and its
branch). Both builds must draw one header, one search field and one ☰ per page: the theme defect of
sphinx-book-theme #986/#988 drew two of each.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sphinx.errors import ConfigError

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "_ext"))
import published_repo

CONFIG = f"""
title: A small book
execute:
  execute_notebooks: "off"
launch_buttons:
  notebook_interface: classic
  colab_url: ""
html:
  use_download_button: true
  use_repository_button: false
sphinx:
  local_extensions:
    published_repo: {ROOT / "_ext"}
"""
TOC = "format: jb-book\nroot: intro\nchapters:\n  - file: lesson\n"
NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# A lesson\n", "\n", "Some text.\n", "\n", "## Part\n"]},
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": ["x = 1"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def build(tmp: Path, **environ: str) -> str:
    """Build the small book with ``environ`` added to a clean environment; the lesson page's HTML."""
    book = tmp / "book"
    book.mkdir()
    (book / "_config.yml").write_text(CONFIG, encoding="utf-8")
    (book / "_toc.yml").write_text(TOC, encoding="utf-8")
    (book / "intro.md").write_text("# A small book\n\nThe introduction.\n", encoding="utf-8")
    (book / "lesson.ipynb").write_text(json.dumps(NOTEBOOK), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in (published_repo.REPOSITORY, published_repo.BRANCH)}
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run(
        [str(jupyter_book), "build", str(book), "--builder", "html", "-W", "-n"],
        env={**env, **environ},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return (book / "_build" / "html" / "lesson.html").read_text(encoding="utf-8")


def one_header(page: str) -> None:
    toggles = re.findall(r'<button[^>]*\bclass="[^"]*\bprimary-toggle\b', page)
    assert len(toggles) == 1, "two ☰ buttons: the theme's header is back"
    assert len(re.findall(r'<button[^>]*\bclass="[^"]*\bsearch-button-field\b', page)) == 1, "a second search box"
    header = re.search(r'<header id="pst-header"[^>]*>(.*?)</header>', page, re.S)
    assert header is None or not header.group(1).strip(), "pydata-sphinx-theme's header is drawn"


def test_a_local_build_links_to_no_repository(tmp_path: Path) -> None:
    page = build(tmp_path)
    one_header(page)
    assert "github.com" not in page and "colab.research.google.com" not in page
    assert "_sources/lesson.ipynb" in page  # the download button stays


def test_a_published_build_links_to_its_repository(tmp_path: Path) -> None:
    page = build(tmp_path, BOOK_REPOSITORY="reader/conv-book", BOOK_BRANCH="trunk")
    one_header(page)
    assert 'href="https://github.com/reader/conv-book"' in page, "no repository button"
    assert 'href="https://colab.research.google.com/github/reader/conv-book/blob/trunk/lesson.ipynb"' in page
    assert set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", page)) == {"https://github.com/reader/conv-book"}


def test_the_repository_must_be_an_owner_and_a_name() -> None:
    assert published_repo.repository_options({}) == {}
    options = published_repo.repository_options({"BOOK_REPOSITORY": "a-b/c.d"})
    assert options["repository_url"] == "https://github.com/a-b/c.d" and options["repository_branch"] == "main"
    with pytest.raises(ConfigError):
        published_repo.repository_options({"BOOK_REPOSITORY": "https://github.com/a/b"})
