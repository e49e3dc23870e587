"""The runner's signal handling and the per-artifact locks, with real processes and signals."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from diffmix_utils import artifacts, locks

# a process that swallows the first Interrupted (as a library might) and keeps working
SWALLOWS = textwrap.dedent("""
    import sys, time
    from diffmix_utils import interrupts
    with interrupts.stop_on_signals(lambda exc: f"interrupted ({exc}): stopped", grace=float(sys.argv[1])):
        try:
            print("ready", flush=True)
            time.sleep(60)
        except interrupts.Interrupted:
            print("swallowed", flush=True)
            time.sleep(60)
""")


def _start(*args):
    proc = subprocess.Popen([sys.executable, "-c", SWALLOWS, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_second_ctrl_c_ends_the_run_at_once():
    proc = _start("60")
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.stdout.readline().strip() == "swallowed"
    start = time.time()
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=10) == 130 and time.time() - start < 3
    assert proc.stderr.read().strip().splitlines() == ["interrupted (Ctrl-C): stopped"]


def test_a_swallowed_signal_still_ends_the_run_after_the_grace_period():
    proc = _start("1")
    start = time.time()
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=10) == 143 and 0.9 < time.time() - start < 5
    assert "interrupted (SIGTERM): stopped" in proc.stderr.read()


HOLDS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from diffmix_utils import artifacts, locks
    folder = Path(sys.argv[1])
    def compute():
        print("computing", flush=True)
        time.sleep(float(sys.argv[2]))
        artifacts.mark_done(folder)
        return folder
    locks.once(folder, "test", compute)
""")


def test_a_locked_artifact_is_waited_for_then_reused(tmp_path, capsys):
    folder = tmp_path / "store" / "train" / "abc"
    holder = subprocess.Popen([sys.executable, "-c", HOLDS, str(folder), "2"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "computing"
    ran = []
    assert locks.once(folder, "training", lambda: ran.append(1)) == folder
    assert holder.wait() == 0 and not ran  # waited, then reused what the other run finished
    said = capsys.readouterr().out
    assert f"is being computed by another run (process {holder.pid} on" in said
    assert "was completed by another run; reusing it" in said


def test_a_killed_holders_claim_does_not_block(tmp_path):
    folder = tmp_path / "store" / "finetune" / "k"
    holder = subprocess.Popen([sys.executable, "-c", HOLDS, str(folder), "60"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "computing"
    holder.kill()  # kill -9: the operating system releases its lock
    holder.wait()
    start = time.time()
    out = locks.once(folder, "fine-tune", lambda: artifacts.mark_done(folder) or Path("computed"))
    assert out == Path("computed") and time.time() - start < 5
