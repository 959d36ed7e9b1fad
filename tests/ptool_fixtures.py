"""Helpers shared by the integration, interop and PKCS#11 test suites.

This module holds the plain-Python machinery (process management, command
runners, TPM inspection); ``conftest.py`` wraps it into pytest fixtures.

Test backends:

* :class:`Swtpm` -- a private ``swtpm socket --tpm2`` instance on a free pair of
  loopback TCP ports (server port P, control port P+1) with a throw-away state
  directory.  TCTI: ``swtpm:host=127.0.0.1,port=P``.
* :class:`Abrmd` -- a private session ``dbus-daemon`` plus ``tpm2-abrmd`` in
  front of a :class:`Swtpm`.  Needed by the upstream Python ``tpm2_ptool``.

Every command runner returns a :class:`subprocess.CompletedProcess` with text
output; when ``check`` is true a non-zero exit status fails the test with the
full command, exit status, stdout and stderr in the message.
"""

import os
import random
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent

UPSTREAM_PTOOL = "/usr/bin/tpm2_ptool"
UPSTREAM_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so"
PTOOL_BIN = os.environ.get("PTOOL_BIN", str(REPO_ROOT / "build" / "cli" / "tpm2-ptool"))
PTOOL_MODULE = os.environ.get(
    "PTOOL_MODULE", str(REPO_ROOT / "build" / "pkcs11" / "tpm2-ptool-pkcs11.so"))

LOOPBACK = "127.0.0.1"
DEFAULT_TIMEOUT = 120  # seconds, for any single command run by the tests
START_TIMEOUT = 10     # seconds, for a daemon to become ready

# Environment variables that must never leak from the developer's shell into
# the commands under test (they would redirect the TPM or the store).
_SCRUBBED_PREFIXES = ("TPM2", "TSS2_", "DBUS_", "XDG_")


# --------------------------------------------------------------------------
# CI policy: skips are failures in CI
# --------------------------------------------------------------------------

def in_ci():
    """True when running under CI (``CI=true``); skipped tests then fail the run."""
    return os.environ.get("CI", "").strip().lower() == "true"


def requires_tool(name):
    """Return the path of executable ``name`` or skip the test.

    ``name`` may be a bare command (looked up on PATH, /usr/bin and /bin
    first) or an absolute path.  Locally a missing tool is a skip; in CI the
    skip is turned into a run failure by the hook in ``conftest.py``.
    """
    if os.path.isabs(name):
        found = name if os.access(name, os.X_OK) else None
    else:
        found = shutil.which(name, path="/usr/bin:/bin:" + os.environ.get("PATH", ""))
    if not found:
        pytest.skip(f"required tool not available: {name}")
    return found


def requires_file(path, what="file"):
    """Return ``path`` if it exists, else skip (a failure in CI)."""
    if not os.path.exists(path):
        pytest.skip(f"required {what} not available: {path}")
    return path


# --------------------------------------------------------------------------
# Running commands
# --------------------------------------------------------------------------

def _describe(args, proc):
    return (f"command failed: {list(map(str, args))}\n"
            f"rc={proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n"
            f"--- stderr ---\n{proc.stderr}")


def run(args, env=None, input=None, check=True, timeout=DEFAULT_TIMEOUT, cwd=None):
    """Run ``args`` (a list) and return the CompletedProcess (text mode).

    ``input`` may be str or bytes-free text; stdout/stderr are always captured.
    """
    args = [str(a) for a in args]
    try:
        proc = subprocess.run(args, env=env, input=input, capture_output=True,
                              text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"command timed out after {timeout}s: {args}\n"
                    f"--- stdout ---\n{exc.stdout}\n--- stderr ---\n{exc.stderr}")
    if check and proc.returncode != 0:
        pytest.fail(_describe(args, proc), pytrace=False)
    return proc


def run_ptool(args, env, input=None, check=True, timeout=DEFAULT_TIMEOUT):
    """Run our C++ ``tpm2-ptool`` (``$PTOOL_BIN``) with ``args``."""
    requires_file(PTOOL_BIN, "tpm2-ptool binary (set PTOOL_BIN or build it)")
    return run([PTOOL_BIN, *args], env=env, input=input, check=check, timeout=timeout)


def add_token(env, label="tok", pid=1, runner=None):
    """The token most tests start from: ``addtoken --pid PID --label LABEL --sopin so
    --userpin user`` with our tool, or with ``runner=run_upstream``. Returns the process."""
    return (runner or run_ptool)(["addtoken", "--pid", str(pid), "--label", label,
                                  "--sopin", "so", "--userpin", "user"], env)


def provision(tpm, store, token="tok", userpin="user", sopin="so", keys=(), upstream=False,
              init_args=()):
    """The provisioning helper of every suite: ``init`` (with ``init_args``), ``addtoken``
    under the new primary, and ``addkey`` for each (algorithm, key label) in ``keys``, with
    our tool or (``upstream=True``) upstream's. ``tpm`` is a fixture object or a TCTI string.
    Returns {"env", "store", "token", "ids": {key label: CKA_ID}, "pid"}."""
    import yaml
    env = ptool_env(tpm, store)
    runner = run_upstream if upstream else run_ptool
    pid = str(yaml.safe_load(runner(["init", *init_args], env).stdout)["id"])
    runner(["addtoken", "--pid", pid, "--label", token, "--sopin", sopin, "--userpin", userpin],
           env)
    ids = {}
    for algorithm, label in keys:
        out = yaml.safe_load(runner(["addkey", "--label", token, "--algorithm", algorithm,
                                     "--key-label", label, "--userpin", userpin], env).stdout)
        ids[label] = out["private"]["CKA_ID"]
    return {"env": env, "store": store, "token": token, "ids": ids, "pid": pid}


def run_upstream(args, env, input=None, check=True, timeout=DEFAULT_TIMEOUT):
    """Run the upstream Python ``/usr/bin/tpm2_ptool`` with ``args``.

    It talks to the TPM through tpm2-tools and tpm2-pytss, so ``env`` must
    carry an abrmd TCTI in ``TPM2TOOLS_TCTI`` (see :func:`ptool_env`).
    """
    requires_tool(UPSTREAM_PTOOL)
    return run([UPSTREAM_PTOOL, *args], env=env, input=input, check=check, timeout=timeout)


def _tcti_and_env(backend):
    """Accept either a TCTI string or a backend object (Swtpm/Abrmd)."""
    if isinstance(backend, str):
        return backend, {}
    return backend.tcti, dict(getattr(backend, "env", {}))


def base_env():
    """os.environ without TPM/TSS/D-Bus/XDG variables, /usr/bin:/bin first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env["PATH"] = "/usr/bin:/bin:" + os.environ.get("PATH", "")
    return env


def ptool_env(tcti, store, home=None, **extra):
    """Build the environment for tpm2_ptool / PKCS#11 consumers.

    ``tcti`` is a TCTI string or a backend object (its ``.env``, e.g. the
    D-Bus address of an :class:`Abrmd`, is merged in).  ``home`` defaults to a
    ``home`` directory next to ``store`` (created 0700).  Extra keyword
    arguments are added verbatim.
    """
    tcti_str, backend_env = _tcti_and_env(tcti)
    store = Path(store)
    home = Path(home) if home is not None else store.parent / "home"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = base_env()
    env.update(backend_env)
    env.update({
        "HOME": str(home),
        "TPM2_PKCS11_STORE": str(store),
        "TPM2TOOLS_TCTI": tcti_str,
        "TPM2_PKCS11_TCTI": tcti_str,
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


# --------------------------------------------------------------------------
# TPM inspection
# --------------------------------------------------------------------------

HANDLE_KINDS = ("transient", "persistent", "loaded-session", "saved-session",
                "permanent", "pcr", "nv-index")


def tpm_handles(tcti, kind="transient"):
    """Return the handles (ints) ``tpm2_getcap handles-<kind>`` lists.

    NB: through tpm2-abrmd, transient handles are virtualised per client
    connection, so a leak check must use the swtpm TCTI directly.
    """
    if kind not in HANDLE_KINDS:
        raise ValueError(f"unknown handle kind {kind!r}")
    tcti_str, backend_env = _tcti_and_env(tcti)
    env = base_env()
    env.update(backend_env)
    out = run(["tpm2_getcap", "-T", tcti_str, f"handles-{kind}"], env=env).stdout
    return [int(m, 16) for m in re.findall(r"^-\s*(0x[0-9a-fA-F]+)\s*$", out, re.M)]


def assert_no_tpm_leaks(tcti):
    """Fail if the TPM holds transient objects or loaded sessions."""
    leaks = {kind: [hex(h) for h in tpm_handles(tcti, kind)]
             for kind in ("transient", "loaded-session")}
    assert not any(leaks.values()), f"TPM handle leak: {leaks}"


def reset_lockout(tcti):
    """Clear the dictionary-attack lockout counter (empty lockout auth)."""
    tcti_str, backend_env = _tcti_and_env(tcti)
    env = base_env()
    env.update(backend_env)
    run(["tpm2_dictionarylockout", "-T", tcti_str, "-c"], env=env)


# --------------------------------------------------------------------------
# Store inspection
# --------------------------------------------------------------------------

STORE_DB_NAME = "tpm2_pkcs11.sqlite3"


def _malformed_ec_point(attrs_yaml):
    """True when a row's CKA_EC_POINT is not a DER OCTET STRING of 04||X||Y with X and Y of a
    NIST curve's full field size."""
    value = yaml.safe_load(attrs_yaml).get(0x181)
    if value is None:
        return False
    der = bytes.fromhex(value)
    return not (len(der) > 3 and der[0] == 4 and der[1] == len(der) - 2 and der[2] == 4
                and len(der) - 3 in (56, 64, 96, 132))


def upstream_addkey(args, env, store):
    """``run_upstream(["addkey", *args])`` that sidesteps a bug of upstream 1.9.0: it builds
    CKA_EC_POINT from the TPM's coordinates without padding them, so a P-256 key whose X or Y
    starts with a zero byte (1 in 128) gets a point pkcs11-tool and OpenSSL reject ("cannot
    create EVP_PKEY"). Such rows are removed and the key made again; anything else about the
    command is unchanged."""
    db = Path(store) / STORE_DB_NAME
    for _ in range(8):
        last = store_query(store, "SELECT coalesce(max(id), 0) FROM tobjects")[0][0]
        proc = run_upstream(["addkey", *args], env)
        new = store_query(store, "SELECT id, attrs FROM tobjects WHERE id > ?", (last,))
        if not any(_malformed_ec_point(attrs) for _, attrs in new):
            return proc
        con = sqlite3.connect(db)
        try:
            with con:
                con.execute("DELETE FROM tobjects WHERE id > ?", (last,))
        finally:
            con.close()
    raise AssertionError("upstream addkey made a malformed EC point 8 times in a row")


def store_query(store, sql, params=()):
    """Run a read-only query against ``<store>/tpm2_pkcs11.sqlite3``."""
    db = Path(store) / STORE_DB_NAME
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def cmdline_until_wiped(argv, env, store, secrets, timeout=30, on_wiped=None, **popen):
    """Start ``argv`` while this process holds the store's write lock, and read its
    /proc/PID/cmdline until none of ``secrets`` is in it (the command has parsed and wiped its
    arguments, then waits on its busy timeout for the lock). Then ``on_wiped(pid)``, if given,
    runs while the command is still waiting. Returns (CompletedProcess, the last sample read):
    sampling does not race the command's speed, under a sanitizer or not.
    """
    lock = sqlite3.connect(Path(store) / STORE_DB_NAME, isolation_level=None, timeout=timeout)
    lock.execute("BEGIN EXCLUSIVE")
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **popen)
    last = b""
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
                    sample = f.read()
            except OSError:
                break
            # Between fork and exec the cmdline is still ours.
            if sample.startswith(argv[0].encode()):
                last = sample
                if not any(x.encode() in sample for x in secrets):
                    if on_wiped:
                        on_wiped(proc.pid)
                        assert proc.poll() is None, "the command did not wait for the lock"
                    break
            time.sleep(0.01)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    out, err = proc.communicate(timeout=DEFAULT_TIMEOUT)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), last


# --------------------------------------------------------------------------
# Daemons
# --------------------------------------------------------------------------

class _Daemon:
    """A background process whose stdout/stderr go to a log file."""

    def __init__(self, args, log_path, env=None, **popen_kwargs):
        self.args = [str(a) for a in args]
        self.log_path = Path(log_path)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, env=env, stdin=subprocess.DEVNULL,
                                         stdout=popen_kwargs.pop("stdout", log),
                                         stderr=log, **popen_kwargs)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL if it does not exit within ``timeout``."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def _wait_for(predicate, daemon, what, timeout=START_TIMEOUT, interval=0.02):
    """Poll ``predicate`` until true; raise if ``daemon`` dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if not daemon.alive():
            raise RuntimeError(f"{what} exited with rc={daemon.proc.returncode}:\n{daemon.log()}")
        time.sleep(interval)
    raise RuntimeError(f"{what} not ready after {timeout}s:\n{daemon.log()}")


def _listening_ports(pid):
    """TCP ports on which process ``pid`` itself holds a LISTEN socket.

    Matching socket inodes (not just "something accepts on the port") makes
    the readiness check immune to another process owning the port.
    """
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A == TCP_LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# Not the module-level random: a test that seeds it must not make ports repeat.
_PORT_RNG = random.SystemRandom()


def _ephemeral_low():
    """First port of the kernel's ephemeral range (outgoing connections take ports there)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_free(port):
    """True when ``port`` can be bound on loopback.  No SO_REUSEADDR, so a port that a
    closed connection still holds in TIME-WAIT counts as taken (swtpm would fail on it)."""
    with socket.socket() as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def _candidate_port():
    """An even port P below the ephemeral range where P and P+1 (swtpm's control port) are
    both free on loopback, so no outgoing connection can take or hold them."""
    high = min(_ephemeral_low(), 65536) - 2
    low = 10000 if high > 20000 else 1024
    while True:
        port = _PORT_RNG.randrange(low, high) & ~1
        if _port_free(port) and _port_free(port + 1):
            return port


def _new_tmpdir(prefix):
    # Short paths under /tmp: D-Bus unix socket paths are limited to 108 bytes.
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


class Swtpm:
    """A private swtpm TPM 2.0 simulator on a loopback TCP port pair.

    swtpm serves one TCP client at a time; tss2's swtpm TCTI reconnects for
    every command, so sequential clients (and abrmd) can share it, but a
    client that keeps its connection open blocks all others.
    """

    def __init__(self, attempts=10, ek_certs=False, ek_rsa_keysize=None):
        self.state_dir = _new_tmpdir("ptool-swtpm-")
        self.port = None
        self._daemon = None
        errors = []
        try:
            if ek_certs:
                self._provision_ek_certs(ek_rsa_keysize)
            for _ in range(attempts):
                port = _candidate_port()
                daemon = self._spawn(port)
                try:
                    _wait_for(lambda: {port, port + 1} <= _listening_ports(daemon.pid),
                              daemon, f"swtpm on port {port}")
                except RuntimeError as exc:
                    daemon.stop()
                    errors.append(str(exc))
                    continue
                self.port, self._daemon = port, daemon
                return
            raise RuntimeError("could not start swtpm:\n" + "\n".join(errors))
        except BaseException:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            raise

    def _provision_ek_certs(self, rsa_keysize=None):
        """EK and platform certificates in NV, issued by a private swtpm_localca whose
        root is `self.ek_ca_root` and intermediate `self.ek_ca_issuer` (swtpm_setup
        writes RSA 2048 at 0x01c00002 and ECC P-384 at 0x01c00016; with rsa_keysize=3072
        RSA 3072 at 0x01c0001c instead of RSA 2048: only high-range certificates)."""
        ca = self.state_dir / "localca"
        ca.mkdir()
        (ca / "swtpm-localca.conf").write_text(
            f"statedir = {ca}\nsigningkey = {ca}/signkey.pem\n"
            f"issuercert = {ca}/issuercert.pem\ncertserial = {ca}/certserial\n")
        (ca / "swtpm-localca.options").write_text(
            "--platform-manufacturer ptool-test\n--platform-version 2.1\n"
            "--platform-model swtpm\n")
        (ca / "swtpm_setup.conf").write_text(
            "create_certs_tool = /usr/bin/swtpm_localca\n"
            f"create_certs_tool_config = {ca}/swtpm-localca.conf\n"
            f"create_certs_tool_options = {ca}/swtpm-localca.options\n"
            "active_pcr_banks = sha256\n")
        subprocess.run(["swtpm_setup", "--tpm2", "--tpmstate", str(self.state_dir),
                        "--create-ek-cert", "--create-platform-cert",
                        "--config", str(ca / "swtpm_setup.conf"), "--overwrite",
                        *(["--rsa-keysize", str(rsa_keysize)] if rsa_keysize else [])],
                       check=True, capture_output=True, timeout=120)
        self.ek_ca_root = ca / "swtpm-localca-rootca-cert.pem"
        self.ek_ca_issuer = ca / "issuercert.pem"

    def _spawn(self, port):
        log = self.state_dir / "swtpm.log"
        log.write_bytes(b"")
        return _Daemon([
            "swtpm", "socket", "--tpm2",
            "--server", f"type=tcp,port={port},bindaddr={LOOPBACK}",
            "--ctrl", f"type=tcp,port={port + 1},bindaddr={LOOPBACK}",
            "--tpmstate", f"dir={self.state_dir}",
            "--flags", "not-need-init,startup-clear",
        ], log)

    @property
    def ctrl_port(self):
        return self.port + 1

    @property
    def tcti(self):
        return f"swtpm:host={LOOPBACK},port={self.port}"

    @property
    def env(self):
        return {}

    def log(self):
        return self._daemon.log() if self._daemon else ""

    def kill(self):
        """SIGKILL swtpm, keeping its ports and state directory for ``start()``."""
        if self._daemon:
            self._daemon.proc.kill()
            self._daemon.proc.wait()
            self._daemon = None

    def start(self):
        """Start swtpm again on the same ports and state directory (after ``kill()``)."""
        daemon = self._spawn(self.port)
        _wait_for(lambda: {self.port, self.port + 1} <= _listening_ports(daemon.pid),
                  daemon, f"swtpm on port {self.port}")
        self._daemon = daemon

    def stop(self):
        """Kill swtpm and delete its state directory (idempotent)."""
        if self._daemon:
            self._daemon.stop()
            self._daemon = None
        shutil.rmtree(self.state_dir, ignore_errors=True)


_DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class DbusSession:
    """A private session bus (no service activation, works as root)."""

    def __init__(self):
        self.dir = _new_tmpdir("ptool-dbus-")
        try:
            config = self.dir / "session.conf"
            config.write_text(_DBUS_CONFIG.format(socket=self.dir / "bus"))
            self._daemon = _Daemon(
                ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
                self.dir / "dbus.log", stdout=subprocess.PIPE)
            self.address = self._read_address()
        except BaseException:
            self.stop()
            raise

    def _read_address(self):
        # dbus-daemon prints its address once it is listening.
        out = self._daemon.proc.stdout
        ready, _, _ = select.select([out], [], [], START_TIMEOUT)
        line = out.readline().decode().strip() if ready else ""
        if not line:
            raise RuntimeError(f"dbus-daemon did not start:\n{self._daemon.log()}")
        return line

    @property
    def env(self):
        return {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def stop(self):
        if getattr(self, "_daemon", None):
            self._daemon.stop()
            self._daemon = None
        shutil.rmtree(self.dir, ignore_errors=True)


class Abrmd:
    """tpm2-abrmd on a private session bus in front of ``swtpm``.

    The bus name is unique per swtpm port.  ``.tcti`` is the tabrmd TCTI
    string, ``.env`` the D-Bus variables clients need.  ``stop()`` does not
    stop the swtpm (the caller owns it).
    """

    def __init__(self, swtpm):
        self.swtpm = swtpm
        self.bus_name = f"com.intel.tss2.Tabrmd{swtpm.port}"
        self.dbus = DbusSession()
        self._daemon = None
        try:
            env = base_env()
            env.update(self.dbus.env)
            self._daemon = _Daemon([
                "tpm2-abrmd", "--session", "--allow-root",
                f"--tcti={swtpm.tcti}", f"--dbus-name={self.bus_name}",
            ], self.dbus.dir / "abrmd.log", env=env)
            _wait_for(self._responds, self._daemon, "tpm2-abrmd", interval=0.05)
        except BaseException:
            self.stop()
            raise

    def _responds(self):
        env = base_env()
        env.update(self.env)
        proc = subprocess.run(["tpm2_getcap", "-T", self.tcti, "properties-fixed"],
                              env=env, capture_output=True, timeout=DEFAULT_TIMEOUT)
        return proc.returncode == 0

    @property
    def tcti(self):
        return f"tabrmd:bus_type=session,bus_name={self.bus_name}"

    @property
    def env(self):
        return self.dbus.env

    def log(self):
        return self._daemon.log() if self._daemon else ""

    def stop(self):
        """Stop abrmd, then its bus (idempotent)."""
        if self._daemon:
            self._daemon.stop()
            self._daemon = None
        self.dbus.stop()
