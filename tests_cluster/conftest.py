"""A real one-node SLURM cluster for the cluster tests: munged, slurmctld and slurmd from Debian's
``slurm-wlm``, configured in a temporary folder (``proctrack/linuxproc``, ``task/none``, no
accounting), started for the session and stopped by their process ids afterwards."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

CONF = """ClusterName=diffmix
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
AuthInfo=socket={d}/munge.sock
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SlurmUser=root
SlurmdUser=root
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    missing = [t for t in ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue") if not shutil.which(t)]
    if missing:
        pytest.fail(f"make test-cluster needs Debian's slurm-wlm and munge ({', '.join(missing)} missing): "
                    "apt-get install -y slurm-wlm munge")
    d = tmp_path_factory.mktemp("slurm")
    (d / "state").mkdir()
    (d / "spool").mkdir()
    subprocess.run(["mungekey", "--create", f"--keyfile={d}/munge.key"], check=True)
    os.chmod(d / "munge.key", 0o600)
    host = socket.gethostname().split(".")[0]
    conf = d / "slurm.conf"
    conf.write_text(CONF.format(host=host, d=d, ctld_port=_free_port(), slurmd_port=_free_port(),
                                cpus=os.cpu_count() or 1))
    env = {**os.environ, "SLURM_CONF": str(conf)}
    daemons = [subprocess.Popen(["munged", "-F", "-f", "-S", f"{d}/munge.sock", f"--key-file={d}/munge.key",
                                 f"--log-file={d}/munged.log", f"--pid-file={d}/munged.pid",
                                 f"--seed-file={d}/munged.seed"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)]
    time.sleep(1)
    daemons.append(subprocess.Popen(["slurmctld", "-D", "-i", "-f", str(conf)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
    time.sleep(2)
    daemons.append(subprocess.Popen(["slurmd", "-D", "-f", str(conf)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT))
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    try:
        for _ in range(60):
            state = subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True).stdout
            if "idle" in state:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the test cluster did not come up: sinfo says {state!r}; logs in {d}")
        yield d
    finally:
        for proc in reversed(daemons):  # only the processes this fixture started
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if old is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = old
