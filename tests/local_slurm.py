"""A single-node SLURM on this machine, for the cluster test: munge and SLURM's daemons from
Debian's packages, configured in a folder of their own (SLURM_CONF points there), started
idempotently and stopped by PID. Needs root; installs the packages with apt when missing."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HOME = Path(tempfile.gettempdir()) / "emoforge-slurm"  # fixed, so that a second start finds the first
PACKAGES = ("slurm-wlm", "munge")
BINARIES = ("slurmctld", "slurmd", "munged", "sbatch", "squeue")


def why_not() -> str | None:
    """None when a local SLURM can run here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "a local SLURM needs root (munged and slurmd run as root here)"
    if all(shutil.which(b) or Path(f"/usr/sbin/{b}").exists() for b in BINARIES):
        return None
    if not shutil.which("apt-get"):
        return "slurm-wlm and munge are not installed and there is no apt-get to install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *PACKAGES]
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            return f"apt-get could not install {' '.join(PACKAGES)}: {done.stderr.strip()[-300:]}"
    return None


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 - 512
    raise RuntimeError("no MemTotal in /proc/meminfo")


def slurm_conf(home: Path, host: str) -> str:
    """What a one-node cluster without systemd or cgroups needs. Without DefMemPerCPU a job
    takes the node's whole memory and the next one waits for it."""
    return f"""ClusterName=emoforge
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={home}/state
SlurmdSpoolDir={home}/spool
SlurmctldPidFile={home}/slurmctld.pid
SlurmdPidFile={home}/slurmd.pid
SlurmctldLogFile={home}/slurmctld.log
SlurmdLogFile={home}/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={home}/jobcomp.log
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
NodeName={host} CPUs={os.cpu_count()} RealMemory={_memory_mb()} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
        return True
    except (OSError, ValueError):
        return False


class LocalSlurm:
    def __init__(self, home: Path):
        self.home = home
        self.host = socket.gethostname().split(".")[0]
        self.conf = home / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self) -> "LocalSlurm":
        for folder in (self.home / "state", self.home / "spool"):
            folder.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(slurm_conf(self.home, self.host))
        self._link_default_conf()
        self._start_munge()
        if not _alive(self.home / "slurmctld.pid"):
            subprocess.run(["slurmctld", "-c"], env=self.env, check=True)  # -c: a clean state
        if not _alive(self.home / "slurmd.pid"):
            subprocess.run(["slurmd"], env=self.env, check=True)
        self._wait_for_node()
        return self

    def _link_default_conf(self) -> None:
        """srun inside a batch job looks for /etc/slurm/slurm.conf (SLURM_CONF does not reach
        it there); a site's own file there is never replaced."""
        default = Path("/etc/slurm/slurm.conf")
        if default.is_symlink() and default.resolve() == self.conf.resolve():
            return
        if default.exists():
            raise RuntimeError(f"{default} belongs to another SLURM set-up: not touching it")
        default.parent.mkdir(parents=True, exist_ok=True)
        default.unlink(missing_ok=True)
        default.symlink_to(self.conf)

    def _start_munge(self) -> None:
        run_dir = Path("/run/munge")
        if (run_dir / "munged.pid").exists() and _alive(run_dir / "munged.pid"):
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            subprocess.run(["runuser", "-u", "munge", "--", "mungekey", "--create"], check=True)
        subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)

    def _wait_for_node(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], env=self.env, capture_output=True, text=True)
            if state.returncode == 0 and state.stdout.strip() in ("idle", "mix", "alloc"):
                return
            time.sleep(0.5)
        raise RuntimeError(f"the local SLURM node never came up; see {self.home}/slurmctld.log and slurmd.log")

    def stop(self) -> None:
        for name in ("slurmd", "slurmctld"):
            pid_file = self.home / f"{name}.pid"
            if _alive(pid_file):
                os.kill(int(pid_file.read_text().split()[0]), 15)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(self.home / f"{n}.pid") for n in ("slurmd", "slurmctld")):
            time.sleep(0.2)

    def finished_jobs(self) -> list[str]:
        """Job records SLURM itself wrote as jobs ended (jobcomp/filetxt; no accounting daemon)."""
        log = self.home / "jobcomp.log"
        return log.read_text().splitlines() if log.exists() else []
