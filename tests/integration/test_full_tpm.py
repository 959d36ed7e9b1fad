"""A TPM that killed processes filled: flushed (direct TCTI only) and retried, never misdiagnosed.

On a TCTI without resource manager (swtpm:, mssim:, device:/dev/tpm0) a SIGKILLed command
leaves its transient objects and loaded sessions in the TPM; swtpm has 3 slots of each.
``addkey`` is killed 25 times after a random delay within one addkey's duration, and the TPM is
then filled up for sure with ``tpm2_createprimary`` (which leaves its primary loaded on a direct
TCTI).  ``addkey``, ``verify``, ``export`` and a C_Sign through our module must then all work:
each frees the leftovers once, says so on stderr, and never touches a saved session or a
persistent handle.  Through tpm2-abrmd nothing is flushed by us (abrmd cleans up after dead
clients itself) and the same commands work.  ``doctor`` counts the leftovers; ``--fix`` frees
them.
"""

import random
import signal
import subprocess
import time

import yaml

from ptool_fixtures import (PTOOL_BIN, PTOOL_MODULE, base_env, ptool_env, requires_file,
                            requires_tool, run, run_ptool, tpm_handles)

KILLS = 25
PIN = "user"
MSG = b"full TPM\n"
FREED = "left in the TPM by killed processes"
ADDKEY = ["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin", PIN]

rng = random.Random()


def _loaded(tcti):
    return len(tpm_handles(tcti, "transient")) + len(tpm_handles(tcti, "loaded-session"))


def _fill(tcti, tmp_path):
    """Fill swtpm's three transient object slots."""
    env = base_env()
    for i in range(3):
        subprocess.run(["tpm2_createprimary", "-T", tcti, "-C", "o", "-c", tmp_path / f"p{i}.ctx"],
                       env=env, capture_output=True)
    assert len(tpm_handles(tcti, "transient")) == 3


def _kill_addkeys(env, duration, probe=None):
    """SIGKILL addkey KILLS times mid-command; the leftovers counted after each (direct only)."""
    leftovers = []
    for _ in range(KILLS):
        proc = subprocess.Popen([PTOOL_BIN, *ADDKEY], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(rng.uniform(0.2, 1.0) * duration)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        if probe:
            leftovers.append(_loaded(probe))
    return leftovers


def _duration(env):
    start = time.monotonic()
    run_ptool(ADDKEY, env)
    return time.monotonic() - start


def _sign(env, key_id, tmp_path):
    requires_tool("pkcs11-tool")
    msg, sig = tmp_path / "msg", tmp_path / "sig"
    msg.write_bytes(MSG)
    return run(["pkcs11-tool", "--module", requires_file(PTOOL_MODULE, "our module"),
                "--token-label", "tok", "--login", "--pin", PIN, "--sign", "-m", "ECDSA-SHA256",
                "--id", key_id.encode().hex(), "-i", msg, "-o", sig],
               env=dict(env, TPM2_PTOOL_LOG="warn"))  # the module says what it freed


def _commands_work(env, tmp_path, before_each=lambda: None):
    """addkey, verify, export, C_Sign; returns their stderr texts."""
    errs = []
    before_each()
    p = run_ptool(ADDKEY + ["--key-label", "after"], env)
    errs.append(p.stderr)
    key_id = bytes.fromhex(yaml.safe_load(p.stdout)["private"]["CKA_ID"]).decode()
    before_each()
    errs.append(run_ptool(["verify", "--label", "tok", "--userpin", PIN], env).stderr)
    before_each()
    errs.append(run_ptool(["export", "--label", "tok", "--key-label", "after", "--userpin", PIN,
                           "--output-prefix", str(tmp_path / "exported")], env).stderr)
    assert (tmp_path / "exported.pem").exists()
    before_each()
    errs.append(_sign(env, key_id, tmp_path).stderr)
    return errs


def _token(tpm, store):
    env = ptool_env(tpm, store)
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok", "--sopin", "so", "--userpin", PIN], env)
    return env


def test_direct_tcti_frees_leftovers_of_killed_processes(swtpm, store, tmp_path):
    requires_tool("tpm2_createprimary")
    env = _token(swtpm, store)
    leftovers = _kill_addkeys(env, _duration(env), probe=swtpm.tcti)
    assert max(leftovers) > 0, f"no kill left anything loaded: {leftovers}"

    # A saved session (tpm2_startauthsession saves its context) must survive every flush;
    # make room for it first (the last kills may have filled the session slots).
    for flag in ("-t", "-l"):
        run(["tpm2_flushcontext", "-T", swtpm.tcti, flag], env=base_env())
    run(["tpm2_startauthsession", "-T", swtpm.tcti, "-S", tmp_path / "s.ctx"], env=base_env())
    saved = tpm_handles(swtpm.tcti, "saved-session")
    persistent = tpm_handles(swtpm.tcti, "persistent")
    assert saved and persistent

    errs = _commands_work(env, tmp_path, lambda: _fill(swtpm.tcti, tmp_path))
    for err in errs:
        assert FREED in err, err
        assert "evicted" not in err and "destroy" not in err, err
    assert tpm_handles(swtpm.tcti, "saved-session") == saved
    assert tpm_handles(swtpm.tcti, "persistent") == persistent
    print(f"\nleftovers after each of {KILLS} kills: {leftovers}")


def test_unknown_tcti_is_never_flushed_and_the_hint_names_real_commands(swtpm, store,
                                                                         tmp_path):
    """tpm2-tss's pcap: TCTI in front of the same swtpm is not a TCTI we know to be direct:
    nothing is flushed, and the error names commands that exist and never suggests
    destroying the primary."""
    env = _token(swtpm, store)
    _fill(swtpm.tcti, tmp_path)
    tcti = f"pcap:{swtpm.tcti}"
    proc = run_ptool(ADDKEY, dict(env, TPM2TOOLS_TCTI=tcti, TPM2_PKCS11_TCTI=tcti,
                                  TCTI_PCAP_FILE=tmp_path / "x.pcap"), check=False)
    assert proc.returncode == 1, proc.stderr
    assert len(tpm_handles(swtpm.tcti, "transient")) == 3  # nothing flushed
    assert FREED not in proc.stderr
    assert "tpm2_flushcontext -t" in proc.stderr and "tpm2_flushcontext -l" in proc.stderr
    assert "tpm2_flush " not in proc.stderr
    assert "evicted" not in proc.stderr and "destroy" not in proc.stderr, proc.stderr


def test_doctor_counts_and_fix_frees(swtpm, store, tmp_path):
    env = _token(swtpm, store)
    run(["tpm2_startauthsession", "-T", swtpm.tcti, "-S", tmp_path / "s.ctx"], env=base_env())
    saved = tpm_handles(swtpm.tcti, "saved-session")
    for i in range(2):
        run(["tpm2_createprimary", "-T", swtpm.tcti, "-C", "o", "-c", tmp_path / f"p{i}.ctx"],
            env=base_env())
    out = run_ptool(["doctor"], env, check=False).stdout
    assert "WARN  loaded in the TPM: 2 transient objects, 0 loaded sessions" in out, out
    assert "doctor --fix" in out and "tpm2_flushcontext -t" in out
    out = run_ptool(["doctor", "--fix"], env, check=False).stdout
    assert "OK    loaded in the TPM: 2 transient objects, 0 loaded sessions; freed 2" in out, out
    assert tpm_handles(swtpm.tcti, "transient") == []
    assert tpm_handles(swtpm.tcti, "saved-session") == saved
    out = run_ptool(["doctor"], env, check=False).stdout
    assert "OK    loaded in the TPM: 0 transient objects, 0 loaded sessions" in out, out


def test_abrmd_nothing_flushed_by_us(abrmd, store, tmp_path):
    env = _token(abrmd, store)
    _kill_addkeys(env, _duration(env))
    errs = _commands_work(env, tmp_path)
    for err in errs:
        assert FREED not in err, err
    assert "loaded in the TPM" not in run_ptool(["doctor"], env, check=False).stdout
