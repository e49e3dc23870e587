"""``--executor slurm``: each job a SLURM job, submitted through submitit, the library the field uses
for SLURM from Python.

Each job is submitted as soon as what it reads is complete, so no job waits in the queue on another
(no ``afterok`` chains to break when a job is retried). Each runs
``python -m diffmix_utils.<module> --member-json FILE`` on its node, with the partition, GPUs, time
limit and extra ``#SBATCH`` options of the ``cluster:`` section. On preemption or at its time limit
a job is requeued by submitit and resumes from its own checkpoints (the fine-tune's, the pool's
finished images, the classifier's last epoch). Each job's log is submitit's
``runs/<name>/slurm/<job id>_0_log.out`` / ``.err``, named in any error. A job that leaves the
queue without a result (cancelled, killed by the node) counts as failed and is retried like any other.
Interrupting the runner cancels the jobs it submitted.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .. import handoff
from ..graph import Job
from .scheduler import member_file


class JobCall:
    """What a SLURM job runs (pickled by submitit): one job of the graph, in a process of its own."""

    def __init__(self, module: str, member_json: str, threads: int):
        self.module, self.member_json, self.threads = module, member_json, threads

    def __call__(self) -> int:
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        done = subprocess.run(handoff.command(self.module, self.member_json), env=env)
        if done.returncode < 0:  # stopped by a signal: SLURM is requeueing or cancelling this job. Writing
            time.sleep(600)      # no result lets the requeued job run again under its id; SLURM ends this one
        if done.returncode:
            raise RuntimeError(f"python -m {self.module} --member-json {self.member_json} exited with "
                               f"status {done.returncode}; its error is above")
        return 0

    def checkpoint(self, *args, **kwargs):
        """Preempted or at the time limit: submitit requeues the same call; the job resumes itself."""
        import submitit
        return submitit.helpers.DelayedSubmission(self)


class SlurmBackend:
    def __init__(self, run_dir: Path, cluster: dict):
        import submitit
        self.folder = run_dir / "slurm"
        self.executor = submitit.AutoExecutor(folder=str(self.folder / "%j"), cluster="slurm",
                                              slurm_max_num_timeout=cluster["requeues"])
        chosen = {"name": "diffmix", "timeout_min": cluster["time_min"], "slurm_partition": cluster["partition"],
                  "gpus_per_node": cluster["gpus_per_job"] or None, "cpus_per_task": cluster["cpus_per_job"],
                  "mem_gb": cluster["mem_gb"], "slurm_additional_parameters": dict(cluster["sbatch"] or {})}
        self.executor.update_parameters(**{k: v for k, v in chosen.items() if v is not None})
        self.capacity = cluster["workers"] or 1000
        self.run_dir, self.queued = run_dir, {}
        self.threads = cluster["cpu_threads"]

    def start(self, job: Job, attempt: int):
        call = JobCall(job.module, str(member_file(job, self.run_dir)), self.threads)
        submitted = self.executor.submit(call)
        self.queued[submitted.job_id] = time.time()
        return submitted

    def ended(self, handle) -> int | None:
        if handle.paths.result_pickle.exists():  # written by the job itself, whether it worked or not
            try:
                handle.result()
                return 0
            except Exception:  # the job raised: its traceback is in its .err log
                return 1
        if time.time() - self.queued[handle.job_id] < 10 or handle.job_id in _in_queue():
            return None
        time.sleep(2)  # it may have written its result just now
        return None if handle.paths.result_pickle.exists() else 2  # left the queue without a result

    def log(self, handle) -> str:
        return f"{handle.paths.stdout} and {handle.paths.stderr}"

    def stop(self, handles) -> None:
        for handle in handles:
            try:
                handle.cancel(check=False)
            except Exception:  # noqa: BLE001 - cancelling is best effort; the queue may be gone
                pass


def _in_queue() -> set[str]:
    """Ids of this user's jobs that SLURM still lists (pending, running, requeued, completing)."""
    out = subprocess.run(["squeue", "--noheader", "--me", "--format=%i"], capture_output=True, text=True)
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}
