"""How many TPM commands each command sends (tpm2-tss pcap TCTI), against the targets.

Counts are exact and repeatable, unlike wall-clock time, so they are asserted here; timings
live in bench/. Targets (issue: upstream needs init 12, addtoken 28, addkey 16):
init <= 5, addtoken <= 8, addkey <= 6, read-only commands 0.
"""

import pytest

from ptool_fixtures import REPO_ROOT, base_env, ptool_env, requires_file, run, run_ptool

PCAPCOUNT = REPO_ROOT.parent / "shared" / "tools" / "pcapcount.py"


def _count(swtpm, store, tmp_path, args):
    requires_file(str(PCAPCOUNT), "shared/tools/pcapcount.py")
    cap = tmp_path / f"{args[0]}.pcap"
    cap.unlink(missing_ok=True)
    env = ptool_env(f"pcap:{swtpm.tcti}", store, TCTI_PCAP_FILE=cap, TPM2_PTOOL_SOPIN="so",
                    TPM2_PTOOL_USERPIN="user")
    run_ptool(args, env)
    if not cap.exists():
        return 0
    out = run(["/usr/bin/python3", PCAPCOUNT, "-v", cap], env=base_env()).stdout
    return int(out.split()[-1]), out


@pytest.fixture
def counted(swtpm, store, tmp_path):
    return lambda *args: _count(swtpm, store, tmp_path, list(args))


def test_command_counts(counted):
    n, detail = counted("init")
    assert n <= 5, detail
    n, detail = counted("addtoken", "--pid", "1", "--label", "tok")
    assert n <= 8, detail
    for alg in ("ecc256", "rsa2048"):
        n, detail = counted("addkey", "--label", "tok", "--algorithm", alg)
        assert n <= 6, detail
    assert counted("ssh-pubkey", "--label", "tok") == 0
