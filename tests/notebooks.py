"""Helpers for the notebook tests: where the chapter notebooks are and how to read them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
NOTEBOOKS = sorted(p for p in CHAPTERS.glob("*/*.ipynb") if ".ipynb_checkpoints" not in p.parts)
NAME = re.compile(r"^(\d\d)-[a-z0-9-]+$")


def load(path: Path) -> dict:
    """The notebook as plain JSON (no nbformat upgrades, so we see exactly what is committed)."""
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def toc_files() -> list[str]:
    """Every ``file:`` entry of _toc.yml, in order, without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files
