"""Run one Otter command, ``otter run ...`` or ``otter assign ...``, in a process of its own.

Two ways in:

* ``python otter_child.py [--memory BYTES] run|assign ARGS...`` starts a fresh
  interpreter (``make assignments`` does this);
* :func:`child_main` is the target of a process forked from the grading fork
  server, which imported Otter once (``otter_preload``), so that each of the many
  submissions does not pay for importing Otter, pandas and nbconvert again.

Either way the process starts a session (process group) of its own and caps its
address space with ``RLIMIT_AS``; the Jupyter kernel it starts inherits the cap.
``run`` calls ``otter.run.main``, the function behind ``otter run``.

This file is loaded by path or from this folder on ``sys.path``, never through
the ``book`` package: importing ``book`` would import torch into every grader.
"""
import os
import resource
import sys
import traceback


def limit(memory: int) -> None:
    """Cap the address space of this process and its children at ``memory`` bytes (0: no cap)."""
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(argv):
    """``otter run [--no-logo] -a AUTOGRADER -o OUTPUT_DIR SUBMISSION``."""
    import argparse

    from otter.run import main

    parser = argparse.ArgumentParser(prog="otter run")
    parser.add_argument("submission")
    parser.add_argument("-a", "--autograder", required=True)
    parser.add_argument("-o", "--output-dir", required=True)
    parser.add_argument("--no-logo", action="store_true")
    opts = parser.parse_args(argv)
    main(opts.submission, autograder=opts.autograder, output_dir=opts.output_dir, no_logo=opts.no_logo)


def dispatch(argv) -> None:
    sys.modules.setdefault("rfc3987_syntax", None)  # see otter_preload
    if argv[:1] == ["run"]:
        run(argv[1:])
    else:
        from otter.cli import cli

        cli(argv, prog_name="otter")


def child_main(argv, env, cwd, log, memory) -> None:
    """Entry point of a forked grader: new session, limits, environment, log; then Otter."""
    os.setsid()
    limit(memory)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    code = 0
    try:
        dispatch(list(argv))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    args = sys.argv[1:]
    memory = 0
    if args[:1] == ["--memory"]:
        memory, args = int(args[1]), args[2:]
    limit(memory)
    dispatch(args)
