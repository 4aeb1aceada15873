"""The start tags of an HTML text, found by the standard library's HTML parser, each with where it is.

The book's extensions change a few tags of pages Sphinx has already written: an image's size, an
ARIA role, a script that a page does not need. They find those tags with a parser, not a regular
expression, and then replace only the text of those tags (:func:`splice`), so that every other byte
of the page stays as Sphinx wrote it. Re-serialising the whole page from a parsed tree, as
BeautifulSoup does, would also rewrite what the extensions do not touch: it lowercases the inline
SVGs' ``viewBox``, turns ``&nbsp;`` into a character and ``<img ... />`` into ``<img .../>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass(frozen=True)
class Tag:
    """One start tag: its name and attributes as the parser reads them, and its place in the text."""

    name: str  # lower case
    attrs: dict[str, str | None]  # values with character references resolved; None for a bare attribute
    text: str  # the start tag exactly as written, from "<" to ">"
    start: int  # offset of its "<"
    close: int  # offset just after the element's end tag; ``end`` where it has none

    @property
    def end(self) -> int:
        """The offset just after the start tag's ``>``."""
        return self.start + len(self.text)


class _Finder(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self._lines = [0]  # offset of each line's start: the parser counts (line, column)
        newline = html.find("\n")
        while newline >= 0:
            self._lines.append(newline + 1)
            newline = html.find("\n", newline + 1)
        self._html = html
        self.tags: list[Tag] = []
        self._open: dict[str, list[int]] = {}  # name -> indexes of its elements still open

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def _tag(self, name: str, attrs: list[tuple[str, str | None]]) -> int:
        text = self.get_starttag_text() or ""
        start = self._offset()
        self.tags.append(Tag(name, dict(attrs), text, start, start + len(text)))
        return len(self.tags) - 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open.setdefault(tag, []).append(self._tag(tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)  # <img ... />: nothing to close

    def handle_endtag(self, tag: str) -> None:
        if self._open.get(tag):
            index = self._open[tag].pop()
            end = self._html.find(">", self._offset()) + 1  # an end tag holds no ">" before its own
            self.tags[index] = Tag(**{**vars(self.tags[index]), "close": end})


def start_tags(html: str) -> list[Tag]:
    """Every start tag of ``html``, in order (none from inside comments or the text of a script).

    Args:
        html: a page, or a part of one.

    Returns:
        the tags, each with its name, attributes, exact text and offsets.

    Shapes:
        not applicable.

    >>> [(t.name, t.attrs, t.start, t.close) for t in start_tags('<p>a<img src="x.png" /></p><script src=y></script>')]
    [('p', {}, 0, 27), ('img', {'src': 'x.png'}, 4, 23), ('script', {'src': 'y'}, 27, 50)]
    """
    finder = _Finder(html)
    finder.feed(html)
    finder.close()
    return finder.tags


def splice(html: str, changes: Iterable[tuple[int, int, str]]) -> str:
    """``html`` with each ``(start, stop, text)`` of ``changes`` put in place of ``html[start:stop]``.

    The changes must not overlap; their order does not matter.

    >>> splice("<a><b><c>", [(6, 9, "<C/>"), (0, 3, "")])
    '<b><C/>'
    """
    parts, done = [], 0
    for start, stop, text in sorted(changes):
        parts += [html[done:start], text]
        done = stop
    return "".join([*parts, html[done:]])
