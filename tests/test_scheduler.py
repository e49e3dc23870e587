"""The loop every executor shares (``executors.scheduler``), with a backend that runs jobs in memory: a
backend that groups small jobs gets them packed, each group one start and one status, a group's
finished jobs count as done even when another of its jobs failed, and the failed one is retried; the
queue's counts are shown when they change, and a job that can never start stops the run in one line."""
from __future__ import annotations

import pytest

from diffmix_utils import artifacts
from diffmix_utils.executors import scheduler
from diffmix_utils.graph import Job


class MemoryBackend:
    """Starts = lists of jobs; a job 'runs' by marking its folder done, except those in ``fail_once``."""
    capacity = 2
    group_stages = ("train",)

    def __init__(self, jobs_per_start=1, fail_once=(), states=None):
        self.jobs_per_start, self.fail_once, self.starts, self._states = jobs_per_start, set(fail_once), [], states

    def _run(self, jobs):
        self.starts.append([j.folder.name for j in jobs])
        status = 0
        for job in jobs:
            if job.folder.name in self.fail_once:
                self.fail_once.discard(job.folder.name)
                status = 1
                continue
            job.folder.mkdir(parents=True, exist_ok=True)
            artifacts.mark_done(job.folder)
        return status

    def start(self, job, attempt):
        return [self._run([job])]

    def start_group(self, jobs, attempts):
        return [self._run(jobs)]

    def ended(self, handle):
        return handle[0]

    def log(self, handle):
        return "memory"

    def stop(self, handles):
        pass


def _graph(tmp_path, n_train=5):
    ft = Job("finetune", tmp_path / "finetune" / "ft", {})
    jobs = [ft] + [Job("train", tmp_path / "train" / f"t{i}", {}, [ft.folder]) for i in range(n_train)]
    return {j.folder: j for j in jobs}


def test_small_jobs_ready_together_are_packed_and_a_failed_one_is_retried_alone(tmp_path):
    backend = MemoryBackend(jobs_per_start=3, fail_once={"t1"})
    said = []
    failed = scheduler.run(_graph(tmp_path), backend, retries=1, say=said.append, poll=0)
    assert failed == []
    assert backend.starts[0] == ["ft"] and backend.starts[1:3] == [["t0", "t1", "t2"], ["t3", "t4"]]
    assert backend.starts[3] == ["t1"]  # its group's other jobs were done: only it ran again
    assert any("train/t1 failed (exit status 1); retry 1 of 1" in s for s in said)
    assert sum("done in" in s for s in said) == 6


def test_without_grouping_every_job_is_its_own_start(tmp_path):
    backend = MemoryBackend()
    assert scheduler.run(_graph(tmp_path, 3), backend, retries=0, say=lambda s: None, poll=0) == []
    assert backend.starts == [["ft"], ["t0"], ["t1"], ["t2"]]


def test_queue_counts_are_shown_and_a_job_that_never_starts_stops_the_run(tmp_path):
    backend = MemoryBackend()
    backend.ended = lambda handle: None  # the jobs wait in the queue
    backend.states = lambda handles: {"pending": len(handles), "running": 0,
                                      "refused": "SLURM job 1 (finetune/ft) is pending with Reason=PartitionConfig"}
    said = []
    with pytest.raises(scheduler.ClusterRefused, match="Reason=PartitionConfig"):
        scheduler.run(_graph(tmp_path, 1), backend, retries=0, say=said.append, poll=0)
    assert "[jobs] 1 pending, 0 running, 0 of 2 done" in said


def test_groups_pack_only_the_named_stages_in_order():
    jobs = [Job(s, __import__("pathlib").Path(n), {}) for s, n in
            [("train", "a"), ("synthesize", "p"), ("train", "b"), ("train", "c")]]
    packed = scheduler.groups(jobs, 2, ("train",))
    assert [[j.folder.name for j in g] for g in packed] == [["a", "b"], ["p"], ["c"]]
    assert len(scheduler.groups(jobs, 1, ("train",))) == 4
