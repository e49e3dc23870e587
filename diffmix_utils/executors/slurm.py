"""``--executor slurm``: each job a SLURM job, submitted through submitit, the library the field uses
for SLURM from Python.

Each job is submitted as soon as what it reads is complete, so no job waits in the queue on another
(no ``afterok`` chains to break when a job is retried). A fine-tune or a pool runs as
``python -m diffmix_utils.<module> --member-json FILE`` on its node; classifiers and filters that are
ready together share a SLURM job, up to ``cluster.jobs_per_slurm_job`` of them, run one after another
in one process (one wait in the queue, one interpreter start). Every SLURM job has the partition,
GPUs, time limit and extra ``#SBATCH`` options of the ``cluster:`` section. On preemption or at its time limit
a job is requeued by submitit and resumes from its own checkpoints (the fine-tune's, the pool's
finished images, the classifier's last epoch). Each job's log is submitit's
``runs/<name>/slurm/<job id>_0_log.out`` / ``.err``, named in any error. A job that leaves the
queue without a result (cancelled, killed by the node) counts as failed and is retried like any other.
A job the cluster cannot run as asked (sbatch refuses it, or it pends for a reason that waiting does
not clear, e.g. more CPUs than a node has) stops the run with one line naming the setting to change
(``slurm_queue``); the progress line counts the jobs pending and running. Interrupting the runner
cancels the jobs it submitted.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from .. import handoff
from ..graph import Job
from . import slurm_queue
from .scheduler import ClusterRefused, member_file


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


class GroupCall(JobCall):
    """What a SLURM job runs for a group of small jobs (classifiers, filters): each in turn, in this one
    process (``worker.run_job``, the job module's own ``main``), so they share one wait in the queue and
    one interpreter start. A job that fails does not stop the others; the call then raises naming them.
    Requeued (preemption, time limit; ``JobCall.checkpoint``), it runs again: finished jobs find their
    folders complete, a half-done one resumes from its checkpoint."""

    def __init__(self, calls: list[tuple[str, str]], threads: int):
        self.calls, self.threads = calls, threads

    def __call__(self) -> int:
        os.environ.update({"OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)})
        from .. import worker
        failed = [f"python -m {module} --member-json {member_json} (status {status})"
                  for module, member_json in self.calls if (status := worker.run_job(module, member_json))]
        if failed:
            raise RuntimeError(f"{len(failed)} of the {len(self.calls)} jobs failed: {'; '.join(failed)}; "
                               "their errors are above")
        return 0


class SlurmBackend:
    group_stages = ("train", "filter")  # small jobs that share a SLURM job (cluster.jobs_per_slurm_job)

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
        self.run_dir, self.queued, self.names = run_dir, {}, {}
        self.threads, self.cluster, self.queue = cluster["cpu_threads"], cluster, slurm_queue.Queue()
        self.jobs_per_start = cluster["jobs_per_slurm_job"]

    def start(self, job: Job, attempt: int):
        return self._submit(JobCall(job.module, str(member_file(job, self.run_dir)), self.threads), job.name)

    def start_group(self, jobs: list[Job], attempts: list[int]):
        call = GroupCall([(j.module, str(member_file(j, self.run_dir))) for j in jobs], self.threads)
        return self._submit(call, f"{jobs[0].name} and {len(jobs) - 1} more")

    def _submit(self, call, name: str):
        """Submit ``call`` as one SLURM job named ``name`` in messages; a refusal is ``ClusterRefused``."""
        try:
            submitted = self.executor.submit(call)
        except Exception as exc:  # noqa: BLE001 - submitit's FailedJobError carries sbatch's own words
            raise ClusterRefused(slurm_queue.refused(str(exc), name, self.cluster)) from None
        self.queued[submitted.job_id] = time.time()
        self.names[submitted.job_id] = name
        return submitted

    def states(self, handles) -> dict:
        """How many of ``handles`` SLURM lists as pending and as running, and, under "refused", the line
        for a job pending for a reason that waiting does not clear (the scheduler then stops the run)."""
        queue, counts = self.queue.snapshot(), {"pending": 0, "running": 0}
        for handle in handles:
            state, reason = queue.get(handle.job_id, ("", ""))
            if state == "PENDING":
                counts["pending"] += 1
                if reason in slurm_queue.NEVER_CLEARS and "refused" not in counts:
                    counts["refused"] = slurm_queue.never_clears(handle.job_id, self.names.get(handle.job_id, "?"),
                                                                 reason, self.cluster)
            elif state:
                counts["running"] += 1
        return counts

    def ended(self, handle) -> int | None:
        if handle.paths.result_pickle.exists():  # written by the job itself, whether it worked or not
            try:
                handle.result()
                return 0
            except Exception:  # the job raised: its traceback is in its .err log
                return 1
        if time.time() - self.queued[handle.job_id] < 10 or handle.job_id in self.queue.snapshot():
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
