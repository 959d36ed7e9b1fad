"""Multi-threaded C_Sign stress: tests/stress/p11_sign_stress dlopens our module,
signs from 4 threads with one session each (P-256 ECDSA and RSA-2048, alternating) and
verifies every signature with OpenSSL against the public key the module returns.

scripts/test runs it three times: in the normal build, in the ASan+UBSan build (ASan module,
ASan stress program) and in the TSan build (PTOOL_SANITIZER=tsan, module and program only).
Counts per thread: $PTOOL_STRESS_ECDSA / $PTOOL_STRESS_RSA (default 500 each).
"""

import os
import re
from pathlib import Path

from p11_common import USER_PIN, module_path, provision
from ptool_fixtures import REPO_ROOT, assert_no_tpm_leaks, requires_file, run

THREADS = 4
ECDSA_SIGNS = int(os.environ.get("PTOOL_STRESS_ECDSA", "500"))
RSA_SIGNS = int(os.environ.get("PTOOL_STRESS_RSA", "500"))
BUILD_DIR = Path(os.environ.get("PTOOL_BUILD_DIR", REPO_ROOT / "build"))
STRESS_BIN = BUILD_DIR / "tests" / "stress" / "p11_sign_stress"


def test_four_threads_sign_and_every_signature_verifies(swtpm, tmp_path):
    stress = requires_file(str(STRESS_BIN), "p11_sign_stress (ninja p11_sign_stress)")
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm.tcti, store, keys=(("ecc256", "kec"), ("rsa2048", "krsa")))
    env = dict(token["env"], P11_STRESS_PIN=USER_PIN)
    proc = run([stress, module_path(), THREADS, ECDSA_SIGNS, RSA_SIGNS], env=env, check=False,
               timeout=3600)
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = dict(re.findall(r"(\w+)=([\d.]+)", proc.stdout))
    assert int(counts["failed"]) == 0
    assert int(counts["ok"]) == THREADS * (ECDSA_SIGNS + RSA_SIGNS)
    # C_Finalize flushed everything the module loaded (direct swtpm TCTI: no resource manager).
    assert_no_tpm_leaks(swtpm.tcti)


def test_wrong_pin_makes_the_stress_program_fail(swtpm, tmp_path):
    # The program must not report success when it could not sign at all.
    stress = requires_file(str(STRESS_BIN), "p11_sign_stress (ninja p11_sign_stress)")
    store = tmp_path / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm.tcti, store, keys=(("ecc256", "kec"), ("rsa2048", "krsa")))
    env = dict(token["env"], P11_STRESS_PIN="wrong-pin")
    proc = run([stress, module_path(), 2, 1, 1], env=env, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "C_Login returned 0xa0" in proc.stderr  # CKR_PIN_INCORRECT
