"""Serial against the local executor, side by side in one sitting: the same parameter file from an
empty store each time, the wall-clock of each, their ratio, and whether the claim and results tables
came out the same.

    python benchmarks/executor_speed.py params/toy_paper.yaml --workers 2 --out /tmp/executor-bench
    python benchmarks/executor_speed.py params/smoke.yaml --workers 2 --set train.epochs=1   # a quick look

Then each job's start-up, before and after the long-lived workers: the same finished classifier job
(it finds its folder complete, so what is timed is the start and the check) run as a process of its
own, as the executors started every job before, and sent to a warm ``python -m diffmix_utils.worker``,
as the local executor now does; and what the difference adds up to over the job graphs of the paper's
files (``params/paper/*.yaml``, as ``--plan`` counts them).

Prints the tables and writes them as JSON (``--json``). Nothing here is a test: the machines are noisy,
so the ratio is what to read, and only from runs made together.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the kit, for the start-up member and the paper files' job graphs


def run(params_file: str, folder: Path, executor: str, workers: int, sets: list[str]) -> float:
    folder.mkdir(parents=True, exist_ok=True)
    args = [x for s in (f"workdir={folder / 'runs'}", f"analyze.figures_dir={folder / 'figures'}", *sets)
            for x in ("--set", s)]
    cmd = [sys.executable, "-m", "diffmix_utils.run", str(Path(params_file).resolve()), "--executor", executor,
           "--workers", str(workers), *args]
    start = time.time()
    with open(folder / "run.log", "w") as log:
        code = subprocess.run(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT).returncode
    if code:
        raise SystemExit(f"{executor} run failed (exit status {code}); see {folder / 'run.log'}")
    return time.time() - start


def tables(folder: Path) -> dict[str, str]:
    """The run's claim and results tables (CSV), without the columns that name the environment."""
    found = sorted((folder / "figures").rglob("tables/*.csv"))
    return {f.name: f.read_text() for f in found if f.stem.startswith(("claim_", "results"))}


def startup(member_json: Path, repeats: int = 3) -> tuple[float, float]:
    """Median seconds for a finished classifier job: as a fresh process, and as a request to a warm worker."""
    import statistics
    fresh = []
    for _ in range(repeats):
        start = time.time()
        subprocess.run([sys.executable, "-m", "diffmix_utils.train", "--member-json", str(member_json)],
                       capture_output=True, check=True)
        fresh.append(time.time() - start)
    worker = subprocess.Popen([sys.executable, "-m", "diffmix_utils.worker"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
    request = json.dumps({"module": "diffmix_utils.train", "member_json": str(member_json),
                          "log": str(member_json.with_suffix(".bench.log"))}) + "\n"
    warm = []
    for i in range(repeats + 1):  # the first request pays the worker's own start
        start = time.time()
        worker.stdin.write(request)
        worker.stdin.flush()
        assert json.loads(worker.stdout.readline())["status"] == 0
        if i:
            warm.append(time.time() - start)
    worker.stdin.close()
    worker.wait(timeout=60)
    return statistics.median(fresh), statistics.median(warm)


def finished_member(params_file: str, out: Path, sets: list[str]) -> Path:
    """A classifier member the serial run finished, written as a job's hand-off file."""
    from diffmix_utils import artifacts, handoff, params
    p = params.load(params_file, params.parse_overrides([f"workdir={out / 'serial' / 'runs'}", *sets]))
    member = next(m for m in params.expand_sweep(p) if artifacts.is_done(artifacts.train_dir(m)))
    return handoff.write_member(member, out / "startup-member.json")


def paper_jobs() -> dict[str, int]:
    """The number of jobs in each paper file's graph, as ``--plan`` counts them."""
    from diffmix_utils import graph, params
    return {f.stem: len(graph.build(params.load(f))) for f in sorted((ROOT / "params" / "paper").glob("*.yaml"))}


def parser() -> argparse.ArgumentParser:
    """The command line of ``python benchmarks/executor_speed.py`` (docs/cli.md is generated from it)."""
    ap = argparse.ArgumentParser(prog="python benchmarks/executor_speed.py", description=__doc__.split("\n")[0])
    ap.add_argument("params_file", help="the parameter file to run both ways (e.g. params/toy_paper.yaml)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/executor-bench"))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", type=Path)
    return ap


def main(argv=None) -> int:
    ap = parser()
    a = ap.parse_args(argv)
    if a.out.exists() and any(a.out.iterdir()):
        raise SystemExit(f"{a.out} is not empty; both runs must start from an empty store")
    serial = run(a.params_file, a.out / "serial", "serial", 1, a.set)
    local = run(a.params_file, a.out / "local", "local", a.workers, a.set)
    same = tables(a.out / "serial") == tables(a.out / "local")
    row = {"params_file": a.params_file, "workers": a.workers, "serial_s": round(serial, 1),
           "local_s": round(local, 1), "speedup": round(serial / local, 2), "same_tables": same,
           "tables": sorted(tables(a.out / "serial")), "date": time.strftime("%Y-%m-%d")}
    print(f"{'file':<26} {'serial':>9} {'local x' + str(a.workers):>10} {'speed-up':>9}  same tables")
    print(f"{a.params_file:<26} {serial / 60:8.1f}m {local / 60:9.1f}m {serial / local:8.2f}x  {same}")
    fresh, warm = startup(finished_member(a.params_file, a.out, a.set))
    jobs = paper_jobs()
    row.update({"startup_fresh_s": round(fresh, 2), "startup_warm_s": round(warm, 3), "paper_jobs": jobs})
    print(f"\nper-job start-up (a finished classifier job): a process of its own {fresh:.2f} s, "
          f"a warm worker {warm:.3f} s")
    print(f"{'paper file':<26} {'jobs':>6} {'start-up before':>16} {'after':>8}")
    for name, n in jobs.items():
        print(f"{name:<26} {n:>6} {n * fresh / 3600:14.2f} h {n * warm / 60:6.1f} m")
    print(f"{'all':<26} {sum(jobs.values()):>6} {sum(jobs.values()) * fresh / 3600:14.2f} h "
          f"{sum(jobs.values()) * warm / 60:6.1f} m")
    if a.json:
        a.json.write_text(json.dumps(row, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
