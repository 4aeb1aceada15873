"""The benchmark's report (``tools/bench.py``): the goals as measured ratios, the markdown tables and the figure.

Everything here reads the plain data that ``conv_benchmark.json`` holds (what :func:`tools.bench.run`
returns) and times nothing, so the report can be written again from a committed run.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from convlib.algorithms import registry
from tools.bench_suites import PEERS, Row, flops
from tools.costmodel import regret_with

_COLOR = {name: f"C{i}" for i, name in enumerate(("torch", *registry.METHODS, "scipy", *PEERS))}


def ratio_to_torch(rows: list[Row], label: str, method: str, backward: bool = False) -> float | None:
    """``method`` 's time over torch's on shape ``label``, or None where it was not measured."""
    got = {r.method: (r.fwdbwd if backward else r.fwd) for r in rows if r.shape == label}
    mine, ref = got.get(method), got.get("torch")
    return None if mine is None or ref is None else mine / ref


def summary(rows: list[Row], long: list[Row], regret: list[dict], fitted: dict[str, float]) -> dict:
    """The goals of the convlib issue, as measured ratios (``None`` where a shape was not run)."""
    in_use = registry.constants()
    as_run = [s["times"]["auto"] / min(v for m, v in s["times"].items() if m != "auto") for s in regret]
    # without auto's own call: the measured time of the method each rule picks, in use and refitted
    picked, refit = regret_with(regret, in_use), regret_with(regret, fitted)
    peer_speedup = {}
    for label in dict.fromkeys(r.shape for r in long):
        times = {r.method: r.fwd for r in long if r.shape == label}
        peer_speedup[label] = min(times[p] for p in PEERS if p in times) / times["fft"]
    for label in dict.fromkeys(r.shape for r in rows):
        times = {r.method: r.fwd for r in rows if r.shape == label}
        if "fft-conv-pytorch" in times:
            peer_speedup[label] = times["fft-conv-pytorch"] / times["fft"]
    return {
        "im2col_fwd": {s: ratio_to_torch(rows, s, "im2col") for s in ("S1", "S2", "S3")},
        "fft_fwd": {s: ratio_to_torch(rows, s, "fft") for s in ("S4", "S5")},
        "auto_fwd": {r.shape: ratio_to_torch(rows, r.shape, "auto") for r in rows if r.method == "auto"},
        "fft_speedup_over_faster_peer": peer_speedup,
        "regret_median": statistics.median(as_run),
        "regret_max": max(as_run),
        "regret_median_picked": statistics.median(picked),
        "regret_max_picked": max(picked),
        "regret_median_refit": statistics.median(refit),
        "regret_max_refit": max(refit),
        "constants_in_use": in_use,
        "constants_fitted": fitted,
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown(result: dict) -> str:
    """The report: the layer table, the 1-D peers, the sweep, grouped layers, auto's regret, the goals."""
    m, rows = result["machine"], [Row(**r) for r in result["rows"]]
    lines = [
        "# Convolution benchmark (`python tools/bench.py`)",
        "",
        f"torch {m['torch']}, {m['cpu']}, {m['threads']} threads of {m['cores']} cores, "
        f"OMP_WAIT_POLICY={m['omp_wait_policy']}; sgemm ceiling (2048² float32 matmul): "
        f"{m['sgemm_gflops']:.1f} GFLOP/s. Shapes are (N, C_in, H=W, C_out, k) with padding k//2, stride 1. "
        "Ratios are time / torch's time in the same run (< 1 is faster than torch).",
        "",
        "| shape | method | fwd ms | fwd ÷ torch | fwd+bwd ms | fwd+bwd ÷ torch | GFLOP/s (fwd) | % sgemm |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        both = "—" if r.fwdbwd is None else f"{r.fwdbwd * 1e3:.3f}"
        rate = flops(r.dims) / r.fwd / 1e9
        fwd, fwdbwd = _fmt(ratio_to_torch(rows, r.shape, r.method)), _fmt(ratio_to_torch(rows, r.shape, r.method, True))
        lines.append(
            f"| {r.shape} {tuple(r.dims)} | {r.method} | {r.fwd * 1e3:.3f} | {fwd} | {both} | {fwdbwd} "
            f"| {rate:.1f} | {100 * rate / m['sgemm_gflops']:.0f} |"
        )
    long = [Row(**r) for r in result["long"]]
    lines += [
        "",
        "## 1-D long kernels against the peer FFT convolutions",
        "",
        "(N, C_in, L, C_out, k), padding k//2. Error: largest |difference| from F.conv1d in float64.",
        "",
        "| shape | method | fwd ms | fwd ÷ torch | max error |",
        "|---|---|---:|---:|---:|",
    ]
    for r in long:
        ratio = _fmt(ratio_to_torch(long, r.shape, r.method))
        lines.append(f"| {r.shape} {tuple(r.dims)} | {r.method} | {r.fwd * 1e3:.2f} | {ratio} | {r.error:.1e} |")
    sweep = result["sweep"]
    lines += ["", f"## Kernel-size sweep: one {sweep['size']}² channel, padding k//2", ""]
    names = [n for n in sweep if n not in ("size", "kernels")]
    lines += ["| k | " + " | ".join(f"{n} ms" for n in names) + " | fft ÷ torch |", "|---" * (len(names) + 2) + "|"]
    for i, k in enumerate(sweep["kernels"]):
        cells = " | ".join(f"{sweep[n][i] * 1e3:.3f}" for n in names)
        lines.append(f"| {k} | {cells} | {sweep['fft'][i] / sweep['torch'][i]:.2f} |")
    cross = result["crossover"]
    lines += ["", f"FFT overtakes F.conv2d from k = {cross} on." if cross else "FFT never overtakes F.conv2d here."]
    lines += [
        "",
        "## Grouped, depthwise and pointwise layers",
        "",
        "| layer | groups | MACs (M) | MB moved | MACs / byte | torch ms | torch GFLOP/s | convlib auto ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in result["grouped"]:
        rate = 2 * g["macs"] / g["torch_ms"] / 1e6
        lines.append(
            f"| {g['layer']} | {g['groups']} | {g['macs'] / 1e6:.1f} | {g['bytes'] / 1e6:.1f} | "
            f"{g['macs'] / g['bytes']:.1f} | {g['torch_ms']:.3f} | {rate:.1f} | {g['auto_ms']:.3f} |"
        )
    s = result["summary"]
    lines += [
        "",
        '## How close `method="auto"` comes to the best method',
        "",
        f"Over {len(result['regret'])} shapes (kernel 1-31, sizes 16-256, channels 1-128, batch 1-32, stride 1-2): "
        f"auto's time ÷ the best method's time has median {s['regret_median']:.2f} and maximum {s['regret_max']:.2f} "
        f"with the constants in use. Counting instead the measured time of the method a rule picks (no call of "
        f"auto), the constants in use give median {s['regret_median_picked']:.2f} and maximum "
        f"{s['regret_max_picked']:.2f}, and the constants refitted on this run would give median "
        f"{s['regret_median_refit']:.2f} and maximum {s['regret_max_refit']:.2f}.",
        "",
        "| constant | in use | refitted |",
        "|---|---:|---:|",
    ]
    for name, value in s["constants_in_use"].items():
        lines.append(f"| {name} | {value:.1f} | {s['constants_fitted'][name]:.1f} |")
    lines += [
        "",
        "| shape (N, C_in, size, C_out, k) | stride | auto picks | im2col ms | fft ms | winograd ms | auto ÷ best |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for e in result["regret"]:
        t = e["times"]
        best = min(v for k, v in t.items() if k != "auto")
        lines.append(
            f"| {tuple(e['dims'])} | {e['stride']} | {e['pick']} | {t['im2col'] * 1e3:.3f} | "
            f"{t['fft'] * 1e3:.3f} | {_fmt(t.get('winograd') and t['winograd'] * 1e3, 3)} | {t['auto'] / best:.2f} |"
        )
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    """Left: forward time / torch per shape and method. Right: the kernel-size sweep."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never open a window
    import matplotlib.pyplot as plt

    rows = [Row(**r) for r in result["rows"]]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), dpi=120)
    shapes = list(dict.fromkeys(r.shape for r in rows))
    names = [m for m in _COLOR if any(r.method == m for r in rows)]
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        got = {s: ratio_to_torch(rows, s, name) for s in shapes}
        xs = [i + j * width for i, s in enumerate(shapes) if got[s] is not None]
        left.bar(xs, [got[s] for s in shapes if got[s] is not None], width, label=name, color=_COLOR[name])
    left.set(yscale="log", ylabel="forward time / F.conv2d", xticks=[i + 0.4 - width / 2 for i in range(len(shapes))])
    left.set_xticklabels(shapes)
    left.axhline(1.0, color="black", linewidth=0.8)
    left.legend(fontsize=7, ncol=2)
    sweep = result["sweep"]
    for name in (n for n in sweep if n not in ("size", "kernels")):
        right.plot(sweep["kernels"], [t * 1e3 for t in sweep[name]], marker="o", label=name, color=_COLOR[name])
    right.set(yscale="log", xlabel="kernel size k", ylabel="forward ms", title=f"one {sweep['size']}² channel")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
