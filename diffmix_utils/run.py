"""Run an experiment: validate its parameter file, then execute the four notebooks in order.

    python -m diffmix_utils.run params/demo.yaml                      # all stages
    python -m diffmix_utils.run params/demo.yaml --only synthesize    # one stage (repeatable; runs even when complete)
    python -m diffmix_utils.run params/demo.yaml --plan               # what it would do, no work
    python -m diffmix_utils.run params/demo.yaml --set train.epochs=5 # override a key
    python -m diffmix_utils.run params/demo.yaml --num-processes 4    # 4 GPUs, data parallel
    python -m diffmix_utils.run params/toy_paper.yaml --executor local --workers 2   # 2 jobs at once
    python -m diffmix_utils.run params/paper/fewshot_cub.yaml --executor slurm --slurm-partition gpu

Parameters are validated before anything is created: a bad file exits with code 2 and one line
naming the key, the bad value and what is valid. Executed notebooks go to
``<workdir>/<name>/notebooks/``; a stage whose artifacts are all complete is skipped (the analysis:
made from the same classifiers and ``analyze`` settings), so a rerun continues where the last one
stopped; a stage named by ``--only`` runs its notebook anyway, reusing what is finished. A failing
notebook stops the run, naming the executed notebook and the failing cell's error (exit code 1).
Ctrl-C (or SIGTERM, SIGHUP) stops the run and every process it started within seconds, keeps what
is finished and says what continues it (exit code 130, 143, 129; ``interrupts``).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from collections import Counter
from pathlib import Path

from . import artifacts, costs, fetch, graph, interrupts, jobs, needs, params, progress, stages
from .strategies import strength_label

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = {s: stages.notebook_of(s) for s in stages.NOTEBOOK_STAGES}


def plan(p: dict) -> str:
    """Counts of the work a parameter set implies and its estimated cost (nothing is run), all from
    one build of the job graph: each job counted once."""
    members = params.expand_sweep(p)
    g = graph.build(p)
    by_stage = {s: [job for job in g.values() if job.stage == s] for s in stages.JOB_STAGES}
    lines = [f"run {p['name']!r}: {len(members)} sweep member(s)"]
    for stage, todo in by_stage.items():  # filter: in 03_train, between its steps
        done = sum(artifacts.is_done(job.folder) for job in todo)
        extra = ""
        if stage == "synthesize" and todo:
            pools = [f"{m['synthesize']['strategy']} s={strength_label(m['synthesize']['strength_choices'] or [m['synthesize']['strength']])} "
                     f"x{m['synthesize']['multiplier']:g}" for m in (job.member for job in todo)]
            kinds = Counter(pools)  # the same pool setting over seeds or draws: counted once
            shown = [f"{k} ({n} pools)" if n > 1 else k for k, n in list(kinds.items())[:8]]
            more = f", ... {len(kinds) - 8} more settings" if len(kinds) > 8 else ""
            extra = " (" + ", ".join(shown) + more + "; x = images per |train|)"
        lines.append(f"  {stage:<10} {len(todo)} job(s), {done} already complete{extra}")
    members_by_stage = {s: [job.member for job in todo] for s, todo in by_stage.items()}
    lines += costs.estimate(p, members_by_stage)
    lines += needs.lines(p, members_by_stage)
    lines += graph.plan_lines(p, g)
    downloads = fetch.needs(p)
    if downloads:
        gone = [i for i in downloads if fetch.present(i) is None]
        lines.append(f"downloads: {len(downloads)} item(s), {len(gone)} missing from this machine's caches"
                     + (f": {'; '.join(i.label() for i in gone)} (python -m diffmix_utils.fetch FILE)" if gone else ""))
    return "\n".join(lines)


def execute(stage: str, p: dict, out_dir: Path) -> Path:
    """Run a stage's notebook with papermill into ``out_dir``; returns its HTML report."""
    import papermill as pm
    src, dst = NOTEBOOK_DIR / NOTEBOOKS[stage], out_dir / NOTEBOOKS[stage]
    out_dir.mkdir(parents=True, exist_ok=True)
    resolved = artifacts.write_text(artifacts.run_dir(p) / "params.yaml", params.dump(p))  # every value, resolved
    injected = {"params_file": str(resolved.resolve()), "overrides": {}}  # the parameters cell's own two names
    os.environ[progress.ENV] = "1"  # the kernel's bars and member lines come to this terminal
    try:
        with tempfile.TemporaryDirectory(prefix="diffmix-kernel-") as sockets:
            pm.execute_notebook(str(src), str(dst), parameters=injected, kernel_name="python3",
                                request_save_on_cell_execute=True, progress_bar=False, cwd=str(Path.cwd()),
                                kernel_manager_class=ipc_kernel_manager(Path(sockets)))
    except pm.PapermillExecutionError as exc:
        write_html(dst)  # the report of a failed run shows where it failed
        raise StageFailed(f"stage {stage!r} failed in {dst} (cell {exc.exec_count}): "
                          f"{exc.ename}: {exc.evalue}") from None
    return write_html(dst)


def ipc_kernel_manager(sockets: Path):
    """A kernel manager whose kernels talk over local IPC sockets in the folder ``sockets``: no
    network port is opened, so ipykernel has no plain-TCP connection to warn about."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport, self.ip = "ipc", str(sockets / "kernel")
    return IPCKernelManager


def write_html(notebook: Path) -> Path:
    """A self-contained HTML copy of an executed notebook beside it (images embedded): the run's
    shareable report."""
    import nbformat
    from nbconvert import HTMLExporter
    body, _ = HTMLExporter(embed_images=True).from_notebook_node(nbformat.read(notebook, as_version=4))
    return artifacts.write_text(notebook.with_suffix(".html"), body)


class StageFailed(RuntimeError):
    pass


# command-line switches for the cluster: section (each is --set cluster.KEY=VALUE)
CLUSTER_FLAGS = [("--executor", "cluster.executor", str, "serial (default), local or slurm: who runs the job graph"),
                 ("--workers", "cluster.workers", int, "local: jobs at once; slurm: jobs in the queue at once"),
                 ("--retries", "cluster.retries", int, "times a failed job is run again"),
                 ("--slurm-partition", "cluster.partition", str, "slurm: the partition"),
                 ("--gpus-per-job", "cluster.gpus_per_job", int, "slurm: GPUs per job (0 on a CPU partition)"),
                 ("--cpus-per-job", "cluster.cpus_per_job", int, "slurm: CPU cores per job"),
                 ("--slurm-time", "cluster.time_min", int, "slurm: time limit per job, minutes")]


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m diffmix_utils.run`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python -m diffmix_utils.run", description=__doc__.split("\n")[0])
    ap.add_argument("params_file", help="the experiment's parameter file (e.g. params/demo.yaml)")
    ap.add_argument("--only", action="append", choices=params.STAGES,
                    help="run only this stage (repeatable), with the chosen executor; a stage named here runs its "
                         "notebook even when complete: finished artifacts are reused, the report and figures are "
                         "rewritten")
    ap.add_argument("--plan", action="store_true", help="print the work this file implies and exit")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key")
    ap.add_argument("--variants", metavar="PATTERN", help="keep only the variants whose names match this glob "
                    "(e.g. 'names/*': one claim of a file, a block of a pre-registered order)")
    ap.add_argument("--num-processes", type=int, metavar="N",
                    help="processes per stage: data-parallel fine-tune and training (one per GPU) and "
                         "synthesis workers (= --set {finetune,synthesize,train}.num_processes=N)")
    for flag, key, kind, text in CLUSTER_FLAGS:
        ap.add_argument(flag, type=kind, metavar=key.split(".")[1].upper(), help=f"{text} (= --set {key}=...)")
    return ap


def params_from_args(args: argparse.Namespace) -> dict:
    """The validated parameters a parsed command line names: the file, ``--set`` and the flags that
    stand for keys (``--num-processes``, the cluster flags). Raises ParamsError."""
    overrides = params.parse_overrides(args.set)
    if args.num_processes is not None:
        for section in ("finetune", "synthesize", "train"):
            overrides[f"{section}.num_processes"] = args.num_processes
    overrides.update({key: getattr(args, flag[2:].replace("-", "_")) for flag, key, _, _ in CLUSTER_FLAGS
                      if getattr(args, flag[2:].replace("-", "_")) is not None})
    p = params.load(args.params_file, overrides)
    return params.keep_variants(p, args.variants) if args.variants else p


def main(argv: list[str] | None = None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    try:
        p = params_from_args(args)
    except params.ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:  # checks that need the expanded members: disk space for the pools, downloads
        problem = costs.disk_problem(p)
        if args.plan:
            print(plan(p) + (f"\nwarning: {problem}" if problem else ""))
            return 0
        problem = problem or fetch.missing_message(p, args.params_file)
    except params.ParamsError as exc:
        problem = str(exc)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    run = artifacts.run_dir(p)
    artifacts.write_text(run / "params.yaml", params.dump(p))
    stages = [s for s in params.STAGES if not args.only or s in args.only]
    executor = p["cluster"]["executor"]
    where = {"doing": "the run"}

    def say(exc: interrupts.Interrupted) -> str:
        doing = where["doing"]
        again = "python -m diffmix_utils.run " + shlex.join(argv if argv is not None else sys.argv[1:])
        return (f"interrupted ({exc}) during {doing}: every process it started is stopped; finished "
                f"artifacts are kept; to continue: {again}")
    try:
        with interrupts.stop_on_signals(say):
            if executor != "serial":
                where["doing"] = f"the job graph ({executor} executor)"
                from . import executors
                failed = executors.run_graph(p, stages=args.only)
                if failed:
                    print(f"error: {len(failed)} job(s) did not complete: {'; '.join(failed)}", file=sys.stderr)
                    return 1
            for stage in stages:
                report = run / "notebooks" / NOTEBOOKS[stage].replace(".ipynb", ".html")
                nothing = stage != "analyze" and not jobs.stage_jobs(p, stage)  # e.g. no fine-tune in the sweep
                if not args.only and jobs.stage_complete(p, stage) and (executor == "serial" or report.is_file()
                                                                        or nothing):
                    print(f"[{stage}] complete, skipped")
                    continue
                where["doing"] = f"stage {stage!r} ({NOTEBOOKS[stage]})"
                print(f"[{stage}] running {NOTEBOOKS[stage]} -> {run / 'notebooks' / NOTEBOOKS[stage]}", flush=True)
                report = execute(stage, p, run / "notebooks")
                print(f"[{stage}] report: {report}", flush=True)
    except BaseException as exc:
        stopped = interrupts.first_signal(exc)  # a kernel stopped by the signal fails its notebook too
        if stopped is not None:
            print(f"\n{say(stopped)}", file=sys.stderr, flush=True)
            return stopped.code
        from .executors.scheduler import ClusterRefused
        if isinstance(exc, (StageFailed, ClusterRefused)):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        raise
    print(f"done: {run}" + (f"; figures in {artifacts.figures_dir(p)}" if "analyze" in stages else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
