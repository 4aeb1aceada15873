"""Which kernel torch's ``F.conv2d`` runs for each benchmark shape: ``python tools/onednn.py``.

torch sends a float32 CPU convolution either to oneDNN, which picks one of its implementations per
shape and per instruction set (direct JIT kernels such as ``jit:avx512_core``, an im2col + GEMM kernel
``gemm:jit``, a reference loop ``ref:any``), or to its own ``aten::_slow_conv2d_forward`` (unfold and
a matrix product), which it uses for some small batch-1 layers. Neither choice is visible from Python:
``torch.backends.mkldnn.is_available()`` says only that oneDNN is built in. This tool asks.

For each shape it runs ``F.conv2d`` once (no timing) in a fresh process with ``ONEDNN_VERBOSE=1``,
which makes oneDNN print one line per primitive it executes, and under ``torch.profiler``, which
names the aten kernel. It repeats this with oneDNN capped at older instruction sets
(``ONEDNN_MAX_CPU_ISA``), to show what the same torch runs on a CPU without AVX-512 or AVX2. It
writes ``benchmarks/conv_impl.json`` (or ``--out DIR``), naming the CPU that produced it;
``tools/bench.py`` calls it after its timings.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

if not __package__:  # run as a script (python tools/onednn.py): make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools.machine import cpu_name

Shape = tuple[int, int, int, int, int]  # (N, C_in, H=W, C_out, k), as in tools/bench_suites.py
CAPS = ("native", "AVX2", "SSE41")  # instruction-set caps tried: the CPU's own, then older ones
#: a layer the benchmark does not time, shown because torch sends it past oneDNN (batch 1, 3x3, small input)
UNTIMED: dict[str, tuple[Shape, int]] = {"batch-1 3x3 on 32²": ((1, 3, 32, 16, 3), 1)}
FLAGS = ("avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "avx2", "fma", "avx", "sse4_1")
_EXEC = re.compile(r"^(?:onednn|dnnl|mkldnn)_verbose,(?:[^,\n]*,)*?exec,cpu,convolution,([^,\n]+),", re.MULTILINE)
_PROBE = """
import json, sys, torch, torch.nn.functional as F
n, c, size, c_out, k, groups, threads = (int(a) for a in sys.argv[1:])
torch.set_num_threads(threads)
gen = torch.Generator().manual_seed(0)
x = torch.randn(n, c, size, size, generator=gen)
w, b = torch.randn(c_out, c // groups, k, k, generator=gen), torch.randn(c_out, generator=gen)
with torch.no_grad(), torch.profiler.profile() as prof:
    F.conv2d(x, w, b, padding=k // 2, groups=groups)
generic = ("aten::conv2d", "aten::convolution", "aten::_convolution")  # every path passes these
ops = [e.key for e in prof.key_averages() if "conv" in e.key and e.key not in generic]
print("PROBE" + json.dumps(ops), flush=True)
"""


def implementation(log: str) -> str | None:
    """The oneDNN implementation of the first convolution in a ``ONEDNN_VERBOSE=1`` log.

    Args:
        log: what a process printed with ``ONEDNN_VERBOSE=1`` (other lines are ignored).

    Returns:
        the implementation field of the first executed ``convolution`` primitive (``"jit:avx2"``,
        ``"x64:gemm:jit"``, ``"ref:any"``, ...), or None when oneDNN ran no convolution.

    Shapes:
        none.

    >>> implementation("onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32\\n"
    ...                "onednn_verbose,v1,primitive,exec,cpu,convolution,jit:avx2,forward_training,src:f32")
    'jit:avx2'
    >>> implementation("onednn_verbose,v1,info,oneDNN v3.7.1") is None
    True
    """
    match = _EXEC.search(log)
    return match.group(1) if match else None


def probe(dims: Shape, groups: int = 1, cap: str = "native", threads: int = 2) -> dict[str, object]:
    """Run ``F.conv2d`` once on one shape in a fresh process and report what ran.

    Args:
        dims: ``(N, C_in, H=W, C_out, k)``, with padding ``k // 2`` and stride 1 as in the benchmark.
        groups: the layer's groups.
        cap: ``"native"``, or a value of ``ONEDNN_MAX_CPU_ISA`` (``"AVX2"``, ``"SSE41"``).
        threads: torch's thread count, as in the benchmark.

    Returns:
        ``{"cap": cap, "onednn": implementation or None, "aten": [aten convolution ops run]}``.

    Shapes:
        none: the tensors live in the child process.
    """
    env = {**os.environ, "ONEDNN_VERBOSE": "1"}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if cap != "native":
        env["ONEDNN_MAX_CPU_ISA"] = cap
    args = [str(v) for v in (*dims, groups, threads)]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    ops = next(json.loads(line[5:]) for line in done.stdout.splitlines() if line.startswith("PROBE"))
    return {"cap": cap, "onednn": implementation(done.stdout), "aten": ops}


def cpu() -> dict[str, object]:
    """The CPU's model name and which of the vector extensions in ``FLAGS`` it has (Linux: /proc/cpuinfo)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    listed = re.search(r"^flags\s*:\s*(.+)$", info, re.MULTILINE)
    flags = set(listed.group(1).split()) if listed else set()
    return {"model": cpu_name(), "flags": [f for f in FLAGS if f in flags]}


def run(shapes: Mapping[str, tuple[Shape, int]], caps: Sequence[str] = CAPS, threads: int = 2) -> dict[str, object]:
    """Probe every shape under every cap; the data that ``conv_impl.json`` holds."""
    import torch  # only for its version: the probes run in child processes

    rows = [
        {"shape": name, "dims": list(dims), "groups": groups, "timed": name not in UNTIMED}
        | probe(dims, groups, cap, threads)
        for name, (dims, groups) in shapes.items()
        for cap in caps
    ]
    return {"cpu": cpu(), "torch": torch.__version__, "threads": threads, "rows": rows}


def benchmark_shapes(quick: bool = False) -> dict[str, tuple[Shape, int]]:
    """The 2-D shapes whose torch time ``tools/bench.py`` reports (S1-S5, the grouped layers), and ``UNTIMED``.

    ``quick``: only the first of the smoke run's shapes, one child process.
    """
    from tools import bench_suites as suites  # imported when needed: the parser and the probes need no torch here

    if quick:  # one probe, a child process that imports torch: the smoke run checks the plumbing
        name, dims = next(iter(suites.QUICK["shapes"].items()))
        return {name: (dims, 1)}
    return {**{name: (dims, 1) for name, dims in suites.SHAPES.items()}, **suites.GROUPED, **UNTIMED}


def write(out: Path, quick: bool = False, threads: int = 2) -> dict[str, object]:
    """Probe the benchmark's shapes and write ``out / "conv_impl.json"``; returns what it wrote."""
    result = run(benchmark_shapes(quick), CAPS[:1] if quick else CAPS, threads)
    out.mkdir(parents=True, exist_ok=True)
    (out / "conv_impl.json").write_text(json.dumps(result, indent=1) + "\n")
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python tools/onednn.py [--out DIR] [--quick]``."""
    parser = argparse.ArgumentParser(prog="python tools/onednn.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks"), help="output folder")
    parser.add_argument("--quick", action="store_true", help="one tiny shape, native ISA only")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    result = write(args.out, args.quick, args.threads)
    rows: list[dict[str, Any]] = result["rows"]  # type: ignore[assignment]
    for row in rows:
        print(f"{row['shape']:18} {row['cap']:6} {row['onednn'] or '(oneDNN not called)':16} {row['aten']}")


if __name__ == "__main__":
    main()
