"""The local executor's long-lived worker (``diffmix_utils.worker``): jobs run one after another in
one process through their module's own ``main``, each with its output in its own log and one answer
per job; a failed job ends the worker after its answer. (That its artifacts equal the serial
executor's is tested with real runs in tests_process/test_local_executor.py.)"""
from __future__ import annotations

import io
import json
import os

from diffmix_utils import worker

JOB = '''import os, sys
def main(argv):
    member = open(argv[1]).read()
    print("job", member, "pid", os.getpid())
    os.write(2, b"from C\\n")  # what a C library writes goes to the log too
    if member == "bad":
        raise RuntimeError("this job fails")
    return 0
'''


def _requests(tmp_path, members):
    module = f"fakejob_{tmp_path.name}".replace("-", "_")  # one module per test: imports are cached
    (tmp_path / module).mkdir()
    (tmp_path / module / "__init__.py").write_text("")
    (tmp_path / module / "__main__.py").write_text(JOB)
    lines = []
    for i, member in enumerate(members):
        (tmp_path / f"m{i}.json").write_text(member)
        lines.append(json.dumps({"module": module, "member_json": str(tmp_path / f"m{i}.json"),
                                 "log": str(tmp_path / f"job{i}.log")}))
    return lines


def test_jobs_run_in_one_process_each_into_its_log(tmp_path, monkeypatch, capfd):
    monkeypatch.syspath_prepend(str(tmp_path))
    answers = io.StringIO()
    assert worker.serve(_requests(tmp_path, ["a", "b"]), answers) == 0
    assert [json.loads(x) for x in answers.getvalue().splitlines()] == [{"status": 0}, {"status": 0}]
    logs = [(tmp_path / f"job{i}.log").read_text() for i in range(2)]
    assert logs[0] == f"job a pid {os.getpid()}\nfrom C\n" and logs[1] == f"job b pid {os.getpid()}\nfrom C\n"
    assert "job a" not in capfd.readouterr().out  # nothing of a job outside its log


def test_a_failed_job_is_answered_then_ends_the_worker(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    answers = io.StringIO()
    assert worker.serve(_requests(tmp_path, ["a", "bad", "c"]), answers) == 1
    assert [json.loads(x)["status"] for x in answers.getvalue().splitlines()] == [0, 1]
    assert "RuntimeError: this job fails" in (tmp_path / "job1.log").read_text()
    assert not (tmp_path / "job2.log").exists()  # the next job waits for a fresh worker
