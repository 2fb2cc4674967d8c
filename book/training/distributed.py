"""Data parallelism on ``torch.distributed``: a script for ``torchrun`` and the helpers a chapter uses.

Run on one machine, two processes, gloo backend on the CPU::

    torchrun --standalone --nproc_per_node=2 -m book.training.distributed --out result.json

Every process (a *rank*) builds the same small model from the same seed and
draws the same global batch; rank ``r`` keeps the ``r``-th contiguous shard of
it. The script then measures four things and rank 0 writes them to ``--out``
as JSON:

1. **Gradients.** ``DistributedDataParallel`` averages the ranks' gradients
   with an all-reduce during ``backward``. With equal shards, the mean of the
   shard means is the mean over the global batch, so every rank ends with the
   gradient a single process computes on the whole batch; the script measures
   the largest difference (and, for contrast, how far one shard's own
   gradient is from it).
2. **Training steps.** A few SGD steps (momentum 0.9), each on a new global
   batch: the ranks' parameters stay bit-identical, and equal a single process
   trained on the global batches to 10 times the gradient tolerance
   (:data:`TOLERANCES`: 1e-6 in float32, 1e-10 in float64).
3. **Sharding.** The same steps with Adam under FSDP (``fully_shard``, each
   rank keeps a slice of every parameter, gradient and optimizer state) and
   under plain DDP with ``ZeroRedundancyOptimizer`` (a ZeRO-1 shard: the
   optimizer states are split across ranks, the parameters are not); the
   bytes each rank holds are counted tensor by tensor, against plain DDP. If
   one of them fails with gloo on the CPU, the error is recorded instead.
   The bytes are those of the parameters, their ``.grad`` and the optimizer
   states kept from step to step. Two buffers are left out: DDP's
   communication buckets (another copy of the gradients, unless DDP is given
   ``gradient_as_bucket_view=True``) and the full parameters of one block,
   which FSDP gathers for the moment it runs.
   After the Adam steps each run's parameters are compared with one process
   trained on the global batches (``max_abs_diff_vs_single``): Adam divides by
   the root of a running mean of squared gradients, which magnifies rounding
   differences in the smallest gradients, so this agreement is looser than
   the SGD one.
4. **Times** of each part, in seconds of wall time (not used by any check).

:func:`torchrun_commands` gives the command lines, on one machine and across
several; :func:`launch` runs the script in a subprocess and returns its JSON,
so a notebook cell (or a test) can run it.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from book.checks import non_negative_int, positive_int, real

MODULE = "book.training.distributed"
TOLERANCES = {"float32": 1e-6, "float64": 1e-10}


# ----------------------------------------------------------------------------- command lines
def torchrun_commands(nproc_per_node: int = 2, nnodes: int = 2, host: str = "HOST", port: int = 29500,
                      args: str = "--out result.json") -> dict:
    """The ``torchrun`` command lines that start this module, as strings.

    Returns a dict:

    * ``"single"``: ``nproc_per_node`` processes on one machine
      (``--standalone`` runs its own rendezvous on a free local port);
    * ``"multi"``: the line to run on each of ``nnodes`` machines with the
      c10d rendezvous at ``host:port`` (an address every machine reaches, for
      instance node 0's). It is the same line on every machine: the
      rendezvous hands out the node ranks itself (torchrun ignores
      ``--node_rank`` with c10d, and warns);
    * ``"static"``: one line per machine for the static rendezvous, which
      needs each machine's ``--node_rank`` and node 0's address as
      ``--master_addr``/``--master_port``.

    ``args`` are the script's own options.
    """
    owner = "torchrun_commands"
    nproc_per_node = positive_int(nproc_per_node, "nproc_per_node", owner=owner)
    nnodes = positive_int(nnodes, "nnodes", owner=owner)
    port = positive_int(port, "port", owner=owner)
    if not isinstance(host, str) or not host or " " in host:
        raise ValueError(f"{owner}: host must be a host name or address without spaces, got {host!r}")
    if not isinstance(args, str):
        raise ValueError(f"{owner}: args must be a string of the script's options, got {type(args).__name__}")
    tail = f"-m {MODULE}" + (f" {args}" if args else "")
    nodes = f"--nnodes={nnodes} --nproc_per_node={nproc_per_node}"
    return {"single": f"torchrun --standalone --nproc_per_node={nproc_per_node} {tail}",
            "multi": f"torchrun {nodes} --rdzv_id=book-ddp --rdzv_backend=c10d --rdzv_endpoint={host}:{port} {tail}",
            "static": [f"torchrun {nodes} --node_rank={rank} --master_addr={host} --master_port={port} {tail}"
                       for rank in range(nnodes)]}


def launch(nproc: int = 2, timeout: float = 180.0, out: str | os.PathLike | None = None,
           options: list[str] | tuple[str, ...] = ()) -> dict:
    """Run ``torchrun --standalone --nproc_per_node=nproc -m book.training.distributed`` and return its JSON.

    The subprocess is ``python -m torch.distributed.run``, the entry point the
    ``torchrun`` command calls, with this interpreter, so it uses the same
    environment; ``PYTHONPATH`` starts with the folder that holds ``book``, so
    the processes import this checkout even where it is not installed, and each
    process runs one thread (``OMP_NUM_THREADS=1``). ``options`` are passed to
    the script (e.g. ``["--steps", "3"]``). Raises ``RuntimeError`` with the end
    of the output if the run fails, and ``subprocess.TimeoutExpired`` after
    ``timeout`` seconds (having ended torchrun and its workers). The JSON also
    gets ``"wall_s"``, the launch's wall time.
    """
    owner = "launch"
    nproc = positive_int(nproc, "nproc", owner=owner)
    timeout = real(timeout, "timeout", 0.0, low_open=True, owner=owner)
    options = [str(o) for o in options]
    if any(o == "--out" for o in options):
        raise ValueError(f"{owner}: give the output path as out=, not in options")
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["OMP_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(out).resolve() if out is not None else Path(tmp) / "result.json"  # the workers run in tmp
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", MODULE, "--out", str(path), *options]
        start = time.perf_counter()
        # A session of its own, so that a timeout ends torchrun and the workers it started together.
        proc = subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            tail = (stdout + stderr)[-3000:]
            raise RuntimeError(f"{owner}: torchrun exited with code {proc.returncode}:\n{tail}")
        result = json.loads(path.read_text())
    result["wall_s"] = wall
    return result


def format_result(result: dict, times: bool = True) -> str:
    """The JSON of a run as lines a chapter prints, the same on every CPU.

    Differences that are pure rounding are shown against their tolerance, not
    as numbers (their last digits depend on the CPU); byte counts are exact.
    ``times`` adds the wall time of each part, each line ending in
    ``s (wall time)`` so the book's tests mask it.
    """
    if not isinstance(result, dict) or "gradients" not in result or "memory_bytes" not in result:
        raise ValueError("format_result: result must be the dict that launch() returns (the script's JSON)")
    r, g, t = result, result["gradients"], result["training"]
    tol = r["tolerance"]
    verdict = (lambda ok: "equal" if ok else "DIFFERENT")
    lines = [f"{r['world_size']} processes, {r['backend']} backend; {r['model']} of {r['n_parameters']:,} parameters, "
             f"{r['dtype']}, global batch {r['global_batch']}",
             f"gradient, DDP against one process on the global batch: {verdict(g['equal'])} "
             f"(max |difference| {'<=' if g['equal'] else '>'} {tol:g})",
             f"gradient of one rank's shard alone against it: max |difference| {g['shard_only_max_abs_diff']:.3g}",
             f"after {r['steps']} SGD steps: ranks {'identical' if t['ranks_identical'] else 'DIFFER'}, "
             f"{verdict(t['equal_reference'])} to one process (max |difference| "
             f"{'<=' if t['equal_reference'] else '>'} {10 * tol:g})",
             f"bytes per process after {r['steps']} Adam steps:",
             f"  {'run':<5} {'rank':>4} {'parameters':>11} {'gradients':>10} {'Adam state':>11} {'total':>10}"]
    for name in ("ddp", "zero", "fsdp"):
        for rank, memory in enumerate(r["memory_bytes"]):
            m = memory[name]
            if "error" in m:
                lines.append(f"  {name:<5} {rank:>4} failed: {m['error']}")
                continue
            total = m["parameters"] + m["gradients"] + m["optimizer_state"]
            lines.append(f"  {name:<5} {rank:>4} {m['parameters']:>11,} {m['gradients']:>10,} "
                         f"{m['optimizer_state']:>11,} {total:>10,}")
    if times:
        lines += [f"{part}: {seconds:.2f} s (wall time)" for part, seconds in r["times_s"].items()]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the worker
def build_model(name: str, dtype, seed: int):
    """The model every rank builds: ``"gpt"`` (a tiny :class:`~book.models.gpt.GPT`) or ``"mlp"``.

    Same ``seed``, same weights, on every rank. Returns ``(model, batch)``,
    where ``batch(n, step)`` draws the global batch of step ``step`` (inputs,
    targets) of ``n`` samples, the same on every rank: random tokens for the
    GPT (next-token targets), Gaussian inputs and random classes for the MLP.
    Nothing is learnt from them; they only have to be the same everywhere.
    :func:`loss_fn` gives the mean loss over the samples it is given.
    """
    import torch
    from torch import nn

    seed = non_negative_int(seed, "seed", owner="build_model")
    torch.manual_seed(seed)
    if name == "gpt":
        from book.models.gpt import GPT, GPTConfig

        cfg = GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=64)
        model = GPT(cfg).to(dtype)

        def batch(n, step):
            g = torch.Generator().manual_seed(1000 * seed + step)
            idx = torch.randint(0, cfg.vocab_size, (n, cfg.block_size + 1), generator=g)
            return idx[:, :-1], idx[:, 1:]
    elif name == "mlp":
        model = nn.Sequential(nn.Linear(32, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(),
                              nn.Linear(128, 10)).to(dtype)

        def batch(n, step):
            g = torch.Generator().manual_seed(1000 * seed + step)
            return torch.randn(n, 32, generator=g, dtype=dtype), torch.randint(0, 10, (n,), generator=g)
    else:
        raise ValueError(f"build_model: name must be 'gpt' or 'mlp', got {name!r}")
    return model, batch


def loss_fn(model, inputs, targets):
    """The mean loss of ``model`` on a batch: the GPT's own cross-entropy, or cross-entropy on logits."""
    import torch.nn.functional as F

    if hasattr(getattr(model, "module", model), "config"):  # a GPT, bare or inside DistributedDataParallel
        return model(inputs, targets).loss
    return F.cross_entropy(model(inputs), targets)


def _shard(tensors, rank, world):
    n = tensors[0].shape[0]
    size = n // world
    return [t[rank * size:(rank + 1) * size] for t in tensors]


def _local(t):
    """A tensor's local part: the shard of a DTensor (FSDP), the tensor itself otherwise."""
    return t.to_local() if hasattr(t, "to_local") else t


def _bytes(tensors) -> int:
    seen, total = set(), 0
    for t in tensors:
        t = _local(t)
        key = (t.data_ptr(), t.numel())  # a tensor shared twice (tied weights) is counted once
        if t.numel() and key not in seen:
            seen.add(key)
            total += t.numel() * t.element_size()
    return total


def _state_tensors(optimizer):
    import torch

    state = optimizer.optim.state if hasattr(optimizer, "optim") else optimizer.state  # ZeRO wraps a local optimizer
    return [v for s in state.values() for v in s.values() if isinstance(v, torch.Tensor) and v.ndim > 0]


def _memory(model, optimizer) -> dict:
    params = list(model.parameters())
    return {"parameters": _bytes(params), "gradients": _bytes(p.grad for p in params if p.grad is not None),
            "optimizer_state": _bytes(_state_tensors(optimizer))}


def _max_diff(a, b) -> float:
    return max(float((x.detach() - y.detach()).abs().max()) for x, y in zip(a, b))


def _run(args) -> dict:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.set_num_threads(1)
    dtype = getattr(torch, args.dtype)
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.global_batch % world:
        raise ValueError(f"--global-batch ({args.global_batch}) must be a multiple of the {world} processes")
    times, result = {}, {"world_size": world, "backend": dist.get_backend(), "model": args.model,
                          "dtype": args.dtype, "global_batch": args.global_batch, "steps": args.steps,
                          "torch": torch.__version__, "tolerance": TOLERANCES[args.dtype]}

    # 1. One backward: DDP's averaged gradient against one process on the global batch.
    start = time.perf_counter()
    model, batch = build_model(args.model, dtype, args.seed)
    reference, _ = build_model(args.model, dtype, args.seed)
    result["n_parameters"] = sum(p.numel() for p in model.parameters())
    ddp = DDP(model)
    inputs, targets = batch(args.global_batch, 0)
    loss_fn(ddp, *_shard([inputs, targets], rank, world)).backward()
    local, _ = build_model(args.model, dtype, args.seed)
    loss_fn(local, *_shard([inputs, targets], rank, world)).backward()
    loss_fn(reference, inputs, targets).backward()
    grads = [p.grad for p in model.parameters()]
    ref_grads = [p.grad for p in reference.parameters()]
    diff = torch.tensor([_max_diff(grads, ref_grads), _max_diff([p.grad for p in local.parameters()], ref_grads)],
                        dtype=torch.float64)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    result["gradients"] = {"max_abs_diff": float(diff[0]), "shard_only_max_abs_diff": float(diff[1]),
                           "max_abs_gradient": max(float(g.abs().max()) for g in ref_grads),
                           "equal": bool(diff[0] <= TOLERANCES[args.dtype])}
    times["gradients"] = time.perf_counter() - start

    # 2. A few SGD steps: identical across ranks, equal to one process on the global batches.
    start = time.perf_counter()
    opt = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=args.lr, momentum=0.9)
    opt.zero_grad()
    ref_opt.zero_grad()
    losses = []
    for step in range(args.steps):
        inputs, targets = batch(args.global_batch, step + 1)
        loss = loss_fn(ddp, *_shard([inputs, targets], rank, world))
        loss.backward()
        opt.step()
        opt.zero_grad()
        ref_loss = loss_fn(reference, inputs, targets)
        ref_loss.backward()
        ref_opt.step()
        ref_opt.zero_grad()
        losses.append(ref_loss.item())
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    rank0 = flat.clone()
    dist.broadcast(rank0, src=0)
    diff = torch.tensor([float((flat - rank0).abs().max()), _max_diff(model.parameters(), reference.parameters())],
                        dtype=torch.float64)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    result["training"] = {"ranks_max_abs_diff": float(diff[0]), "reference_max_abs_diff": float(diff[1]),
                          "ranks_identical": bool(diff[0] == 0.0),
                          "equal_reference": bool(diff[1] <= 10 * TOLERANCES[args.dtype]),
                          "reference_losses": losses}
    times["training"] = time.perf_counter() - start

    # 3. Bytes per rank with Adam: plain DDP, DDP + ZeroRedundancyOptimizer, FSDP.
    memory = {}
    start = time.perf_counter()
    model, _ = build_model(args.model, dtype, args.seed)
    ddp = DDP(model)
    opt = torch.optim.Adam(ddp.parameters(), lr=1e-3)
    _adam_steps(ddp, opt, batch, args, rank, world)
    memory["ddp"] = _memory(model, opt)
    memory["ddp"]["max_abs_diff_vs_single"] = _compare_to_ddp_adam(model.parameters(), args, batch)
    times["ddp_adam"] = time.perf_counter() - start

    start = time.perf_counter()
    try:
        from torch.distributed.optim import ZeroRedundancyOptimizer

        model, _ = build_model(args.model, dtype, args.seed)
        ddp = DDP(model)
        opt = ZeroRedundancyOptimizer(ddp.parameters(), optimizer_class=torch.optim.Adam, lr=1e-3)
        _adam_steps(ddp, opt, batch, args, rank, world)
        memory["zero"] = _memory(model, opt)
        memory["zero"]["max_abs_diff_vs_single"] = _compare_to_ddp_adam(model.parameters(), args, batch)
    except Exception as error:  # recorded, not hidden: the chapter prints it
        memory["zero"] = {"error": f"{type(error).__name__}: {error}"}
    times["zero"] = time.perf_counter() - start

    start = time.perf_counter()
    if args.no_fsdp:
        memory["fsdp"] = {"error": "skipped (--no-fsdp)"}
    else:
        try:
            from torch.distributed.fsdp import fully_shard

            model, _ = build_model(args.model, dtype, args.seed)
            for module in getattr(model, "blocks", []):
                fully_shard(module)  # each block is its own group: gathered only while it runs
            fully_shard(model)  # the root holds the rest (embeddings, final norm)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            with warnings.catch_warnings():
                # FSDP warns that a block returns a view (the GPT's keys and values); nothing here writes to it.
                warnings.filterwarnings("ignore", message="FSDP2-wrapped module")
                _adam_steps(model, opt, batch, args, rank, world)
            memory["fsdp"] = _memory(model, opt)
            memory["fsdp"]["max_abs_diff_vs_single"] = _compare_to_ddp_adam(
                [p.full_tensor() for p in model.parameters()], args, batch)
        except Exception as error:
            memory["fsdp"] = {"error": f"{type(error).__name__}: {error}"}
    times["fsdp"] = time.perf_counter() - start

    per_rank = [None] * world
    dist.all_gather_object(per_rank, memory)
    result["memory_bytes"] = per_rank
    result["times_s"] = times
    return result


def _adam_steps(model, opt, batch, args, rank, world):
    for step in range(args.steps):
        inputs, targets = batch(args.global_batch, step + 1)
        loss_fn(model, *_shard([inputs, targets], rank, world)).backward()
        opt.step()
        opt.zero_grad(set_to_none=False)  # keep the gradient buffers, so they are counted


def _compare_to_ddp_adam(params, args, batch) -> float:
    """Largest difference between ``params`` and one process trained with Adam on the global batches."""
    import torch

    reference, _ = build_model(args.model, getattr(torch, args.dtype), args.seed)
    opt = torch.optim.Adam(reference.parameters(), lr=1e-3)
    _adam_steps(reference, opt, batch, args, 0, 1)
    return _max_diff(params, reference.parameters())


def parse_args(argv=None):
    """The script's options (see ``python -m book.training.distributed --help``)."""
    p = argparse.ArgumentParser(prog=f"torchrun --standalone --nproc_per_node=2 -m {MODULE}",
                                description="DDP gradients and steps against one process; FSDP and ZeRO bytes.")
    p.add_argument("--out", required=True, help="where rank 0 writes the JSON result")
    p.add_argument("--model", choices=["gpt", "mlp"], default="gpt")
    p.add_argument("--dtype", choices=sorted(TOLERANCES), default="float32")
    p.add_argument("--global-batch", type=int, default=8, help="samples per step over all processes")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-fsdp", action="store_true", help="skip the FSDP measurement")
    args = p.parse_args(argv)
    positive_int(args.global_batch, "--global-batch")
    positive_int(args.steps, "--steps")
    non_negative_int(args.seed, "--seed")
    if args.model == "gpt" and args.dtype == "float64":
        p.error("the GPT's loss is computed in float32; use --model mlp for float64")
    return args


def main(argv=None) -> int:
    """Entry point of each process that ``torchrun`` starts; rank 0 writes the JSON."""
    from datetime import timedelta

    import torch.distributed as dist

    args = parse_args(argv)
    if "RANK" not in os.environ:
        sys.exit(f"start this module with torchrun, e.g.\n  {torchrun_commands()['single']}")
    dist.init_process_group("gloo", timeout=timedelta(seconds=120))
    try:
        result = _run(args)
        if dist.get_rank() == 0:
            Path(args.out).write_text(json.dumps(result, indent=1))
    finally:
        dist.destroy_process_group()
    training = result["training"]
    ok = result["gradients"]["equal"] and training["ranks_identical"] and training["equal_reference"]
    if not ok:
        print(f"rank {os.environ['RANK']}: a check failed: {result['gradients']} {result['training']}", file=sys.stderr)
    return 0 if ok else 1


__all__ = ["TOLERANCES", "build_model", "format_result", "launch", "loss_fn", "main", "parse_args", "torchrun_commands"]


if __name__ == "__main__":
    sys.exit(main())

