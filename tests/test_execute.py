"""The safe executor and the nbval regression gate, each shown to do its job on real notebooks."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

from tests.helpers import ROOT
from tools.execute import execute, main

pytestmark = pytest.mark.slow


def make_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"  # fixed ids, so two files from one recipe are comparable
    nbformat.write(nb, path)
    return path


def test_failure_leaves_original_untouched_and_names_the_cell(tmp_path: Path, capsys) -> None:
    path = make_notebook(tmp_path / "broken.ipynb", "x = 1", "print(x)", "raise ValueError('boom')", "x + 1")
    before = path.read_bytes()
    status = main([str(path)])
    assert status != 0
    assert path.read_bytes() == before, "a failed run must not touch the committed notebook"
    err = capsys.readouterr().err
    assert "broken.ipynb" in err and "cell 2" in err and "ValueError: boom" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.ipynb"], "no temp files left behind"


def test_cli_exit_status_is_nonzero_on_failure(tmp_path: Path) -> None:
    path = make_notebook(tmp_path / "broken.ipynb", "1 / 0")
    before = path.read_bytes()
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "execute.py"), str(path)], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "ZeroDivisionError" in run.stderr
    assert path.read_bytes() == before


def test_reexecution_is_byte_identical(tmp_path: Path) -> None:
    code = (
        "import numpy as np\nimport matplotlib.pyplot as plt\nfrom convlib.course.notebook import setup\nsetup(0)",
        "print(np.random.rand(3).round(4))",
        "fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([0, 1], [1, 0]); plt.show()",
    )
    path = make_notebook(tmp_path / "ok.ipynb", *code)
    first = execute(path)
    assert first.ok and first.changed, first.error
    once = path.read_bytes()
    second = execute(path)
    assert second.ok and not second.changed
    assert path.read_bytes() == once
    nb = nbformat.read(path, as_version=4)
    assert "papermill" not in nb.metadata
    assert all("papermill" not in c.metadata and "execution" not in c.metadata for c in nb.cells)
    assert nb.cells[2].outputs[-1]["data"].keys() >= {"image/png"}


def test_runs_in_the_notebooks_folder(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("42")
    path = make_notebook(tmp_path / "cwd.ipynb", "print(open('data.txt').read())")
    assert execute(path).ok
    assert nbformat.read(path, as_version=4).cells[0].outputs[0]["text"] == "42\n"


def nbval(folder: Path) -> subprocess.CompletedProcess[str]:
    sanitize = ROOT / "tests" / "nbval_sanitize.cfg"
    cmd = [sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
           "--nbval-sanitize-with", str(sanitize), "."]  # fmt: skip
    # nbval alone: neither the repository's conftest.py (torch, for the unit tests) nor the other plugins
    cmd += ["--noconftest", "-p", "no:xdist", "-p", "no:anyio", "-p", "no:hypothesispytest"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=folder)


def test_nbval_fails_when_a_stored_output_changes(tmp_path: Path) -> None:
    """nbval with the course's sanitiser passes an executed notebook whose object address differs in every
    kernel, and fails a copy whose printed number was altered; one nbval run checks both files."""
    intact = make_notebook(tmp_path / "intact.ipynb", "print(object())", "print(round(2 / 7, 4))")
    assert execute(intact).ok
    nb = nbformat.read(intact, as_version=4)
    assert " at 0x" in nb.cells[0].outputs[0]["text"], "the address the sanitiser must hide"
    stream = nb.cells[1].outputs[0]
    assert stream["text"] == "0.2857\n"
    stream["text"] = "0.2858\n"
    nbformat.write(nb, tmp_path / "changed.ipynb")
    run = nbval(tmp_path)
    assert run.returncode == 1, run.stdout[-2000:]
    assert "1 failed, 3 passed" in run.stdout, run.stdout[-2000:]
    failed = [line for line in run.stdout.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1 and "changed.ipynb::Cell 1 " in failed[0], run.stdout[-2000:]


def test_check_passes_a_deterministic_notebook_and_never_writes(tmp_path: Path, capsys) -> None:
    code = (
        "import numpy as np\nimport matplotlib.pyplot as plt\nnp.random.seed(0)",
        "print(np.random.rand(3).round(4))",
        "fig, ax = plt.subplots(figsize=(2, 2)); ax.plot([0, 1], [1, 0]); plt.show()",
    )
    path = make_notebook(tmp_path / "seeded.ipynb", *code)
    assert execute(path).ok  # commit it as the executor writes it
    committed = path.read_bytes()
    stat = path.stat()
    assert main(["--check", str(path)]) == 0
    assert path.read_bytes() == committed and path.stat().st_mtime_ns == stat.st_mtime_ns, "--check never writes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seeded.ipynb"], "no temp files left behind"
    assert "1 identical, 0 differ" in capsys.readouterr().out


def test_check_fails_on_unseeded_random_output_and_names_the_cell(tmp_path: Path, capsys) -> None:
    path = make_notebook(tmp_path / "unseeded.ipynb", "x = 1", "import random\nprint(random.random())")
    assert execute(path).ok
    committed = path.read_bytes()
    assert main(["--check", str(path)]) == 1
    assert path.read_bytes() == committed, "a failing check must leave the committed notebook untouched"
    err = capsys.readouterr().err
    assert "unseeded.ipynb differs" in err
    assert "cell 1, output 0 (stream): line 1:" in err, err
    assert "cell 0" not in err, "the deterministic cell must not be reported"


def test_check_reports_a_drifting_image(tmp_path: Path, capsys) -> None:
    """The class of drift nbval misses: same text, different PNG bytes."""
    code = (
        "import numpy as np\nimport matplotlib.pyplot as plt",
        "rng = np.random.default_rng()  # unseeded on purpose\n"
        "fig, ax = plt.subplots(figsize=(2, 2)); ax.imshow(rng.random((8, 8))); plt.show()",
    )
    path = make_notebook(tmp_path / "image.ipynb", *code)
    assert execute(path).ok
    assert main(["--check", str(path)]) == 1
    assert "cell 1, output 0 (display_data): data differs in image/png" in capsys.readouterr().err


def test_check_fails_on_a_notebook_that_does_not_run(tmp_path: Path, capsys) -> None:
    path = make_notebook(tmp_path / "broken.ipynb", "1 / 0")
    before = path.read_bytes()
    assert main(["--check", str(path)]) == 1
    assert path.read_bytes() == before
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_check_flags_a_committed_file_that_was_never_normalised(tmp_path: Path, capsys) -> None:
    """A notebook saved by hand (stale outputs, no execution) is not what the executor produces."""
    path = make_notebook(tmp_path / "stale.ipynb", "print(2 + 2)")
    assert main(["--check", str(path)]) == 1
    assert "cell 0: execution_count differs" in capsys.readouterr().err


def test_portable_check_tolerates_a_redrawn_figure_but_not_a_changed_figure_or_text(tmp_path: Path, capsys) -> None:
    """--portable: a figure another CPU redraws (a few pixels, a palette shift) passes; real changes fail."""
    code = (
        "import matplotlib.pyplot as plt",
        "print('accuracy 0.950')\nfig, ax = plt.subplots(figsize=(3, 2)); ax.plot([0, 1], [1, 0]); plt.show()",
    )
    path = make_notebook(tmp_path / "figure.ipynb", *code)
    assert execute(path).ok
    committed = nbformat.read(path, as_version=4)
    outputs = committed.cells[1].outputs
    figure = next(o for o in outputs if o.output_type == "display_data")

    def redraw(change) -> None:  # store the committed figure with its pixels changed
        with Image.open(io.BytesIO(base64.b64decode(figure.data["image/png"]))) as image:
            pixels = np.asarray(image.convert("RGB")).astype(np.int16)
        out = io.BytesIO()
        Image.fromarray(np.clip(change(pixels.copy()), 0, 255).astype(np.uint8)).save(out, format="PNG")
        edited = nbformat.read(path, as_version=4)
        next(o for o in edited.cells[1].outputs if o.output_type == "display_data").data["image/png"] = (
            base64.b64encode(out.getvalue()).decode()
        )
        nbformat.write(edited, path)

    def palette_shift(p):  # every pixel one level darker, and three pixels far off
        p -= 1
        p[0, :3] = 0
        return p

    redraw(palette_shift)  # the byte-for-byte check sees any redrawn figure: test_check_reports_a_drifting_image
    assert main(["--check", "--portable", str(path)]) == 0, capsys.readouterr().err
    assert "1 within the figure tolerance" in capsys.readouterr().out

    def blot(p):  # a 20x20 patch turned black: a changed figure
        p[10:30, 10:30] = 0
        return p

    redraw(blot)
    assert main(["--check", "--portable", str(path)]) == 1
    assert "image/png: " in capsys.readouterr().err

    nbformat.write(committed, path)
    edited = nbformat.read(path, as_version=4)
    stream = next(o for o in edited.cells[1].outputs if o.output_type == "stream")
    stream.text = stream.text.replace("0.950", "0.949")
    nbformat.write(edited, path)
    assert main(["--check", "--portable", str(path)]) == 1
    assert "'accuracy 0.949' -> 'accuracy 0.950'" in capsys.readouterr().err
