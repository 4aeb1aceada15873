"""tools/onednn.py: the ONEDNN_VERBOSE parser, one probe, and the committed record of what F.conv2d ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools import bench_suites, onednn

ROOT = Path(__file__).resolve().parents[1]
LOG = """onednn_verbose,v1,info,oneDNN v3.7.1 (commit 8d263e6)
onednn_verbose,v1,primitive,info,template:operation,engine,primitive,implementation,prop_kind,memory_descriptors
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:abcd::f0,,16x3x3x3,0.003
onednn_verbose,v1,primitive,exec,cpu,convolution,{impl},forward_training,src:f32:a:blocked:abcd::f0,,mb1_ic3oc16,0.2
onednn_verbose,v1,primitive,exec,cpu,reorder,jit:blk,undef,src:f32::blocked:aBcd16b::f0,,1x16x128x128,15.7
"""


@pytest.mark.parametrize("impl", ["jit:avx512_core", "jit:avx2", "x64:gemm:jit", "ref:any", "jit_dw:sse41"])
def test_implementation_is_the_convolution_line_not_a_reorder(impl: str) -> None:
    assert onednn.implementation(LOG.format(impl=impl)) == impl


def test_implementation_reads_older_log_formats() -> None:
    assert onednn.implementation("dnnl_verbose,exec,cpu,convolution,gemm:jit,forward_training,src_f32") == "gemm:jit"


def test_no_convolution_line_means_onednn_was_not_called() -> None:
    assert onednn.implementation(LOG.splitlines()[0]) is None
    assert onednn.implementation("") is None


def test_probe_names_onednn_kernel_or_torch_fallback() -> None:
    got = onednn.probe((2, 3, 12, 4, 3), threads=1)
    assert got["cap"] == "native"
    if got["onednn"] is None:  # a torch built without oneDNN runs its own kernel
        assert "aten::_slow_conv2d_forward" in got["aten"]
    else:
        assert got["aten"] == ["aten::mkldnn_convolution"]


def test_committed_record_covers_every_timed_shape() -> None:
    record = json.loads((ROOT / "benchmarks" / "conv_impl.json").read_text())
    assert record["cpu"]["model"] and record["torch"]
    timed = {row["shape"] for row in record["rows"] if row["timed"]}
    assert timed == set(bench_suites.SHAPES) | set(bench_suites.GROUPED)
    for row in record["rows"]:
        assert row["cap"] in onednn.CAPS
        assert (row["onednn"] is None) == ("aten::mkldnn_convolution" not in row["aten"])
