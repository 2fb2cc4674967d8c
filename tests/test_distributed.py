"""book.training.distributed: DDP on gloo against one process, FSDP and ZeRO bytes, torchrun command lines.

The launch starts ``torchrun`` with two CPU processes once for the whole file
(about 10 s on a quiet 2-core machine, most of it three imports of torch).
"""
import subprocess

import pytest

from book.training.distributed import TOLERANCES, format_result, launch, main, parse_args, torchrun_commands


@pytest.fixture(scope="module")
def result():
    return launch(nproc=2, timeout=240)


def test_ddp_gradients_equal_the_global_batch_gradient(result):
    assert result["world_size"] == 2 and result["backend"] == "gloo"
    g = result["gradients"]
    assert g["equal"] and g["max_abs_diff"] <= TOLERANCES[result["dtype"]]
    # Without the all-reduce a rank's gradient is its shard's, far from the global one.
    assert g["shard_only_max_abs_diff"] > 1e3 * TOLERANCES[result["dtype"]]


def test_ddp_steps_keep_ranks_identical_and_equal_one_process(result):
    t = result["training"]
    assert t["ranks_identical"] and t["ranks_max_abs_diff"] == 0.0
    assert t["equal_reference"] and t["reference_max_abs_diff"] <= 10 * TOLERANCES[result["dtype"]]
    assert len(t["reference_losses"]) == result["steps"]


def test_sharding_divides_the_bytes_per_rank(result):
    ranks = result["memory_bytes"]
    assert len(ranks) == 2
    full = ranks[0]["ddp"]["parameters"]
    assert full == result["n_parameters"] * 4  # float32, the tied matrix counted once
    for r in ranks:
        assert r["ddp"] == ranks[0]["ddp"] and r["ddp"]["max_abs_diff_vs_single"] < 1e-4
        assert r["ddp"]["optimizer_state"] == 2 * full  # Adam: two moments per weight
        assert "error" not in r["zero"], r["zero"]
        assert r["zero"]["parameters"] == full and r["zero"]["optimizer_state"] < 2 * full
        assert r["zero"]["max_abs_diff_vs_single"] < 1e-4
        if "error" not in r["fsdp"]:
            assert r["fsdp"]["parameters"] < full and r["fsdp"]["optimizer_state"] < 2 * full
            assert r["fsdp"]["max_abs_diff_vs_single"] < 1e-4
    # ZeRO splits the optimizer states, FSDP everything: the ranks' shares add up to one copy.
    assert sum(r["zero"]["optimizer_state"] for r in ranks) == 2 * full
    if "error" not in ranks[0]["fsdp"]:
        assert sum(r["fsdp"]["parameters"] for r in ranks) == full


def test_format_result_prints_the_checks_and_bytes(result):
    text = format_result(result)
    assert "DDP against one process on the global batch: equal (max |difference| <= 1e-06)" in text
    assert "ranks identical, equal to one process" in text
    full = f"{result['n_parameters'] * 4:,}"
    assert f"  ddp      0 {full:>11} {full:>10}" in text
    assert len([line for line in text.splitlines() if line.startswith("  fsdp")]) == 2
    assert all(line.endswith("s (wall time)") for line in text.splitlines() if ": " in line and " s " in line)
    assert "wall time" not in format_result(result, times=False)
    with pytest.raises(ValueError, match="format_result"):
        format_result({"gradients": {}})


def test_torchrun_command_lines():
    c = torchrun_commands()
    assert c["single"] == "torchrun --standalone --nproc_per_node=2 -m book.training.distributed --out result.json"
    assert c["multi"] == ("torchrun --nnodes=2 --nproc_per_node=2 --rdzv_id=book-ddp --rdzv_backend=c10d "
                          "--rdzv_endpoint=HOST:29500 -m book.training.distributed --out result.json")
    assert c["static"] == [
        f"torchrun --nnodes=2 --nproc_per_node=2 --node_rank={r} --master_addr=HOST --master_port=29500 "
        f"-m book.training.distributed --out result.json" for r in (0, 1)]
    c = torchrun_commands(nproc_per_node=8, nnodes=3, host="10.0.0.1", port=1234, args="")
    assert c["multi"].endswith("--nnodes=3 --nproc_per_node=8 --rdzv_id=book-ddp --rdzv_backend=c10d "
                               "--rdzv_endpoint=10.0.0.1:1234 -m book.training.distributed")
    assert len(c["static"]) == 3 and "--node_rank=2 --master_addr=10.0.0.1 --master_port=1234" in c["static"][2]
    for bad in ({"nproc_per_node": 0}, {"nnodes": True}, {"host": "a b"}, {"port": 0}, {"args": ["--out"]}):
        with pytest.raises(ValueError, match="torchrun_commands"):
            torchrun_commands(**bad)


def test_the_command_line_parses_as_torchrun_reads_it():
    """The lines are what torchrun's own parser accepts, with the values meant."""
    from torch.distributed.run import get_args_parser

    c = torchrun_commands(host="10.0.0.1", port=1234)
    single = get_args_parser().parse_args(c["single"].split()[1:])
    assert single.standalone and single.nproc_per_node == "2" and single.module
    assert single.training_script == "book.training.distributed"
    assert single.training_script_args == ["--out", "result.json"]
    multi = get_args_parser().parse_args(c["multi"].split()[1:])
    assert (multi.nnodes, multi.rdzv_backend, multi.rdzv_endpoint) == ("2", "c10d", "10.0.0.1:1234")
    static = get_args_parser().parse_args(c["static"][1].split()[1:])
    assert (static.node_rank, static.master_addr, static.master_port) == (1, "10.0.0.1", 1234)
    assert static.rdzv_backend == "static"


def test_arguments_are_checked(monkeypatch):
    with pytest.raises(ValueError, match="out="):
        launch(options=["--out", "x.json"])
    with pytest.raises(ValueError, match="nproc"):
        launch(nproc=0)
    with pytest.raises(subprocess.TimeoutExpired):
        launch(timeout=0.5)  # ends torchrun (and any worker) instead of waiting
    with pytest.raises(SystemExit):
        parse_args(["--out", "x.json", "--dtype", "float64"])  # the GPT's loss is float32
    assert parse_args(["--out", "x.json", "--model", "mlp", "--dtype", "float64"]).dtype == "float64"
    monkeypatch.delenv("RANK", raising=False)
    with pytest.raises(SystemExit, match="torchrun"):
        main(["--out", "x.json"])
