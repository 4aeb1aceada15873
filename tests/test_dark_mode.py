"""Dark mode: the animation player takes its colours from the page's theme, in headless Chromium (offline).

The player draws on a canvas, which the DOM does not show; its legend swatches are recoloured from the
same palette at every frame, so their colours tell which palette the player drew with.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from convlib.course.animation import COLORS, geometry
from convlib.course.player import DARK_COLORS, animate
from tests.browser import ANIMATIONS_ADVANCED, render


def rgb(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def swatches(dom: str) -> dict[str, str]:
    """Each legend swatch's colour as rgb(); one that kept its light colour still has it as written (hex)."""
    found = re.findall(r'data-kind="(\w+)" style="[^"]*background: ?(rgb\([^)]*\)|#[0-9a-f]{6})', dom)
    return {kind: rgb(color) if color.startswith("#") else color for kind, color in found}


@pytest.mark.parametrize(
    ("theme", "switch", "palette"),
    [
        ("light", "", COLORS),
        ("dark", "", DARK_COLORS),
        ("light", "document.documentElement.setAttribute('data-theme', 'dark');", DARK_COLORS),  # the reader switches
    ],
)
def test_the_player_follows_the_theme(browser: Browser, tmp_path: Path, theme: str, switch: str, palette: dict) -> None:
    anim = animate(geometry(3, 3, stride=2, transposed=True)).html  # every kind of cell: i, p, z
    page = tmp_path / "page.html"
    later = f"<script>setTimeout(function () {{ {switch} }}, 300);</script>" if switch else ""
    page.write_text(f'<!doctype html><html data-theme="{theme}"><meta charset="utf-8"><body>{anim}{later}</body>')
    rendered = render(browser, page, ANIMATIONS_ADVANCED)  # its third frame: 1.4 s, after the switch at 0.3 s
    assert not rendered.blocked, rendered.blocked
    shown = swatches(rendered.dom)
    assert set(shown) == {"i", "p", "z", "tap", "done", "now"}
    assert shown == {kind: rgb(palette[kind]) for kind in shown}
