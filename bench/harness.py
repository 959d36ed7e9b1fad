"""Process runner, TPM command counter and statistics for the benchmarks.

Timing: wall time around fork/exec/wait of the measured command only (store copies and
clean-up are outside the timed region). Peak RSS: separate runs under ``/usr/bin/time -v``
("Maximum resident set size"). Not wait4() from Python: CPython spawns with vfork, and Linux
carries the parent's RSS high-water mark across exec, so every child would report ~26 MiB.
"""

import os
import shutil
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path


class CommandFailed(RuntimeError):
    pass


def run_measured(args, env, input_text=None, cwd=None):
    """Run ``args``; return (wall seconds, CPU seconds user+sys, stdout).

    CPU time comes from wait4() and, unlike wall time, hardly depends on how busy the
    machine is. Raise CommandFailed on rc != 0.
    """
    args = [str(a) for a in args]
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr:
        if input_text is not None:
            fin.write(input_text.encode())
            fin.seek(0)
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdin=fin, stdout=fout, stderr=ferr, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        out = fout.read().decode(errors="replace")
        err = ferr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise CommandFailed(f"{args} rc={proc.returncode}\n--- stdout\n{out}\n--- stderr\n{err}")
    return elapsed, usage.ru_utime + usage.ru_stime, out


def time_v_rss(args, env):
    """Peak RSS (KiB) of ``args`` as printed by ``/usr/bin/time -v``."""
    proc = subprocess.run(["/usr/bin/time", "-v", *map(str, args)], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise CommandFailed(f"{args} rc={proc.returncode}: {proc.stderr[-600:]}")
    for line in proc.stderr.splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1])
    raise CommandFailed(f"/usr/bin/time -v {args}: {proc.stderr}")


# --------------------------------------------------------------------------
# pcapng written by tpm2-tss's pcap TCTI
# --------------------------------------------------------------------------

def _tpm_payload(pkt):
    for start in range(0, min(len(pkt), 80)):
        if pkt[start:start + 2] in (b"\x80\x01", b"\x80\x02") and start + 10 <= len(pkt):
            if struct.unpack_from(">I", pkt, start + 2)[0] == len(pkt) - start:
                return pkt[start:]
    return None


def pcap_events(path):
    """[(timestamp_us, is_command, code)] for every TPM packet in a pcapng file.

    Same classification as /work/shared/tools/pcapcount.py (a command carries a command
    code 0x11F..0x1A0 at offset 6); timestamps are the EPB's (microseconds, pcapng
    default resolution, which the pcap TCTI uses).
    """
    try:
        buf = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    events = []
    off = 0
    while off + 12 <= len(buf):
        btype, blen = struct.unpack_from("<II", buf, off)
        if blen < 12 or off + blen > len(buf):
            break
        if btype == 6:
            ts_hi, ts_lo, caplen = struct.unpack_from("<III", buf, off + 12)
            tpm = _tpm_payload(buf[off + 28: off + 28 + caplen])
            if tpm is not None:
                code = struct.unpack_from(">I", tpm, 6)[0]
                events.append(((ts_hi << 32) | ts_lo, 0x11F <= code <= 0x1A0, code))
        off += blen
    return events


def count_commands(events):
    return sum(1 for _, is_cmd, _ in events if is_cmd)


def tpm_busy_seconds(events):
    """Sum of command->response gaps: time the TPM (swtpm + socket) took, the floor."""
    total = 0
    pending = None
    for ts, is_cmd, _ in events:
        if is_cmd:
            pending = ts
        elif pending is not None:
            total += ts - pending
            pending = None
    return total / 1e6


def run_pcount(path):
    """Total commands as counted by the shared pcapcount.py (cross-check)."""
    tool = "/work/shared/tools/pcapcount.py"
    if not os.path.exists(tool) or not os.path.exists(path):
        return None
    out = subprocess.run(["/usr/bin/python3", tool, str(path)], capture_output=True, text=True)
    return int(out.stdout.split()[-1]) if out.returncode == 0 and out.stdout.split() else None


# --------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------

def summary(samples):
    """{'median','min','max','n'} of a list of numbers (None when empty)."""
    if not samples:
        return None
    return {"median": statistics.median(samples), "min": min(samples),
            "max": max(samples), "n": len(samples)}


def fresh_copy(src, workdir, name):
    """Copy store directory ``src`` to a new directory under ``workdir``."""
    dst = Path(tempfile.mkdtemp(prefix=name + "-", dir=workdir))
    shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst
