"""Point the book's repository and Colab buttons at the repository that publishes it (issue #21).

A book that names its repository in ``_config.yml`` links to that name on every page, whether or not
it exists: a fork, a rename or a book not yet pushed shows a dead link. Here the repository comes from
the build's environment instead:

- ``BOOK_REPOSITORY`` (``owner/name``, as GitHub's ``${{ github.repository }}`` gives it) turns on the
  repository button (``https://github.com/owner/name``) and, on every notebook page, the Colab launch
  button (Colab opens the notebook from that repository);
- ``BOOK_BRANCH`` names the branch the buttons open (default ``main``).

Without ``BOOK_REPOSITORY`` (a local build) neither button is drawn: a reader's copy of the book links
to no repository it cannot know.

The extension also carries the fix for a theme defect, because it sets the theme's options before the
theme reads them: see :func:`theme_options`.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ConfigError

REPOSITORY = "BOOK_REPOSITORY"
BRANCH = "BOOK_BRANCH"
OWNER_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
COLAB = "https://colab.research.google.com"


def repository_options(environ: dict[str, str] | os._Environ[str]) -> dict[str, Any]:
    """The theme options that the repository named in ``environ`` turns on (none without one)."""
    repository = environ.get(REPOSITORY, "").strip()
    if not repository:
        return {}
    if not OWNER_NAME.fullmatch(repository):
        raise ConfigError(f"{REPOSITORY}={repository!r} is not a GitHub repository's owner/name")
    return {
        "repository_url": f"https://github.com/{repository}",
        "repository_branch": environ.get(BRANCH, "").strip() or "main",
        "path_to_docs": "",  # the book's root is the repository's root
        "use_repository_button": True,
        "launch_buttons": {"notebook_interface": "classic", "colab_url": COLAB},
    }


def theme_options(app: Sphinx, config: Any) -> None:
    options = config.html_theme_options
    # Theme defect, sphinx-book-theme #986 and #988: pydata-sphinx-theme >= 0.17.1 sets `navbar_persistent`
    # to its own default (a search field) when the options do not name it, overriding sphinx-book-theme's empty
    # one. pydata's header is then drawn above the book's: a second search box across the top of every page,
    # and a second pair of sidebar toggles that pydata's script binds instead of the book's own, so on a phone
    # the menu button does nothing. Naming it, empty, keeps the header away. Remove once fixed upstream.
    options.setdefault("navbar_persistent", [])
    repository = repository_options(os.environ)
    for key, value in repository.items():
        if key == "launch_buttons":
            value = {**options.get("launch_buttons", {}), **value}
        options[key] = value


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", theme_options)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
