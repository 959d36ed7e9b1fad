"""How many TPM commands each command sends (tpm2-tss pcap TCTI), against the targets.

Counts are exact and repeatable, unlike wall-clock time, so they are asserted here; timings
and the laptop-TPM latency model live in bench/ (docs/benchmarks.md). Upstream needs init 12,
addtoken 28, addkey 16 commands from the tool (more behind tpm2-abrmd). Ours:

- init 4 (GetCapability for a free handle, CreatePrimary, EvictControl, FlushContext; its
  sequence changes when init reuses an identical persistent primary);
- addtoken: no CreatePrimary (the RSA-PSS probe loads a software key: LoadExternal + Sign +
  FlushContext), and a second token under the same primary reuses the probe's verdict;
- addkey 5 (salted session, the seal's Load + Unseal + FlushContext, Create ending the
  session) once the store holds a key under the primary whose mechanism list tells the
  TPM algorithms the new key depends on (any key type: an RSA key's list tells RSA-PSS and
  SHA-384/512, an EC key's SHA-384/512); else + one TPM2_GetCapability(algorithms), 6.
  HMAC keys never ask;
- every session ends with the last command that uses it (continueSession cleared), never
  with a FlushContext of its own; read-only store commands 0.
"""

import os
import sys
from pathlib import Path

import pytest
import yaml

from ptool_fixtures import (REPO_ROOT, base_env, ptool_env, requires_file, requires_tool, run,
                            run_ptool, store_query)

sys.path.insert(0, str(REPO_ROOT / "bench"))
import tpm_latency  # noqa: E402  (the pcap parser of the latency model)

TPM_RC_RETRY = 0x922

# The shared tool next to the main checkout (from a helper's work tree: /work/shared).
PCAPCOUNT = next((p for p in (REPO_ROOT.parent / "shared" / "tools" / "pcapcount.py",
                              Path("/work/shared/tools/pcapcount.py")) if p.exists()),
                 REPO_ROOT.parent / "shared" / "tools" / "pcapcount.py")
USER_PIN, SO_PIN = "user", "so"


def _count(swtpm, store, tmp_path, args, cwd=None):
    """(number of TPM commands, {command name: count}, the sequence as text) of one command.

    Counted by pcapcount.py and bench/tpm_latency.py (they must agree); the number and the
    histogram leave out attempts the TPM answered with TPM_RC_RETRY (swtpm does so on the
    first use of some algorithms; ESYS resends them), so the counts do not depend on it.
    """
    requires_file(str(PCAPCOUNT), "shared/tools/pcapcount.py")
    cap = tmp_path / f"{args[0]}.pcap"
    cap.unlink(missing_ok=True)
    env = ptool_env(f"pcap:{swtpm.tcti}", store, TCTI_PCAP_FILE=cap, TPM2_PTOOL_SOPIN=SO_PIN,
                    TPM2_PTOOL_USERPIN=USER_PIN)
    if args[0] == "module":
        run(args[1:], env=env, cwd=cwd)
    else:
        run_ptool(args, env)
    if not cap.exists():
        return 0, {}, ""
    out = run(["/usr/bin/python3", PCAPCOUNT, cap], env=base_env()).stdout
    seq = tpm_latency.read_sequence(cap)
    assert int(out.split()[-1]) == len(seq), (out, seq)  # both parsers agree
    hist = {}
    for c in seq:
        if c["rc"] != TPM_RC_RETRY:
            hist[c["name"]] = hist.get(c["name"], 0) + 1
    return sum(hist.values()), hist, tpm_latency.compact(seq)


@pytest.fixture
def counted(swtpm, store, tmp_path):
    return lambda *args: _count(swtpm, store, tmp_path, list(args))


def _pss_sigs_good(store, label):
    rows = store_query(store, "SELECT config FROM tokens WHERE label=?", (label,))
    return yaml.safe_load(rows[0][0])["pss-sigs-good"]


def _old_probe_verdict(swtpm, tmp_path):
    """The probe addtoken used before, recomputed with tpm2-tools and Python's cryptography:
    an RSA-2048 primary generated in the NULL hierarchy signs "message" with RSA-PSS/SHA-256;
    True when the salt is the hash length, False when it is the maximum."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    env, t = base_env(), swtpm.tcti
    ctx, pub, msg, sig = (tmp_path / n for n in ("probe.ctx", "probe.pem", "msg", "sig"))
    msg.write_bytes(b"message")
    run(["tpm2_createprimary", "-T", t, "-C", "n", "-G", "rsa2048:null:null", "-a",
         "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign|noda", "-c", ctx], env=env)
    run(["tpm2_readpublic", "-T", t, "-c", ctx, "-f", "pem", "-o", pub], env=env)
    run(["tpm2_sign", "-T", t, "-c", ctx, "-g", "sha256", "-s", "rsapss", "-f", "plain", "-o",
         sig, msg], env=env)
    run(["tpm2_flushcontext", "-T", t, "-t"], env=env)
    key = serialization.load_pem_public_key(pub.read_bytes())
    for salt, verdict in ((32, True), (padding.PSS.MAX_LENGTH, False)):
        try:
            key.verify(sig.read_bytes(), msg.read_bytes(),
                       padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
                       hashes.SHA256())
            return verdict
        except InvalidSignature:
            continue
    raise AssertionError("the TPM's RSA-PSS signature verifies with neither salt length")


def test_command_counts(counted, swtpm, store, tmp_path):
    n, hist, detail = counted("init")
    assert n == 4 and hist.get("CreatePrimary") == 1, detail

    # The RSA-PSS probe without key generation, and the same verdict as the old probe.
    n, hist, detail = counted("addtoken", "--pid", "1", "--label", "tok")
    assert n == 7 and "CreatePrimary" not in hist and hist.get("Create") == 2, detail
    assert hist.get("LoadExternal") == 1 and hist.get("Sign") == 1, detail
    assert _pss_sigs_good(store, "tok") == _old_probe_verdict(swtpm, tmp_path)
    # A second token of the same primary reuses the verdict: session + two seals only.
    n, hist, detail = counted("addtoken", "--pid", "1", "--label", "tok2")
    assert n == 3 and set(hist) == {"StartAuthSession", "Create"}, detail
    assert _pss_sigs_good(store, "tok2") == _pss_sigs_good(store, "tok")

    # addkey: salted session, the seal's Load + Unseal + FlushContext, the Create ends the
    # session. Only the very first key under the primary asks the TPM's algorithms; after
    # an RSA key (RSA-PSS, SHA-384/512) no key type asks again, in any token of the primary.
    addkey_floor = {"StartAuthSession": 1, "Load": 1, "Unseal": 1, "FlushContext": 1,
                    "Create": 1}
    n, hist, detail = counted("addkey", "--label", "tok", "--algorithm", "rsa2048",
                              "--key-label", "rsa2048-1")
    assert n == 6 and hist == {**addkey_floor, "GetCapability": 1}, detail
    for tok, alg, label in (("tok", "ecc256", "ecc256-1"), ("tok", "rsa2048", "rsa2048-2"),
                            ("tok", "ecc256", "ecc256-2"), ("tok", "hmac:sha256", None),
                            ("tok2", "ecc256", "other-token")):
        n, hist, detail = counted("addkey", "--label", tok, "--algorithm", alg,
                                  *(["--key-label", label] if label else []))
        assert n == 5 and hist == addkey_floor, (alg, detail)
    # ... with the same mechanisms as when it asks.
    rows = [(yaml.safe_load(a).get(0x100), yaml.safe_load(a).get(0x40000600))
            for (a,) in store_query(store, "SELECT attrs FROM tobjects ORDER BY id")]
    for key_type in (0, 3):  # CKK_RSA, CKK_EC
        lists = [m for t, m in rows if t == key_type and m]
        assert len(lists) >= 4 and all(m == lists[0] for m in lists), rows
    ecc = [m for t, m in rows if t == 3 and m]
    assert 0x1045 in ecc[0], ecc  # CKM_ECDSA_SHA384: swtpm has SHA-384

    # The other commands at their floor: salted session, the seal's Load + Unseal +
    # FlushContext, then what the command itself needs; the session ends with its last use.
    auth_env = ptool_env(swtpm, store, TPM2_PTOOL_USERPIN=USER_PIN)
    exported = yaml.safe_load(run_ptool(
        ["export", "--label", "tok", "--key-label", "ecc256-1", "--output-prefix",
         str(tmp_path / "lnk")], auth_env).stdout)
    n, hist, detail = counted("export", "--label", "tok", "--key-label", "ecc256-1",
                              "--output-prefix", str(tmp_path / "exp"))
    assert n == 4 and hist.get("FlushContext") == 1, detail  # the seal's
    # link: + the key's Load (proves the parent, ends the session) + its FlushContext.
    n, hist, detail = counted("link", "--label", "tok", "--key-label", "linked", "--auth",
                              exported["object-auth"], str(tmp_path / "lnk.pem"))
    assert n == 6 and hist.get("Load") == 2 and "GetCapability" not in hist, detail
    # import: + Import, Load (checks the blob, ends the session), FlushContext.
    key = tmp_path / "imp.pem"
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", key], env=base_env())
    n, hist, detail = counted("import", "--label", "tok", "--privkey", str(key), "--algorithm",
                              "ecc", "--key-label", "imported")
    assert n == 7 and hist.get("Import") == 1 and "GetCapability" not in hist, detail
    n_keys = sum(1 for (a,) in store_query(
        store, "SELECT attrs FROM tobjects WHERE tokid=(SELECT id FROM tokens WHERE label=?)",
        ("tok",)) if yaml.safe_load(a).get(0x8F000001))  # CKA_TPM2_OBJAUTH_ENC
    n, hist, detail = counted("verify", "--label", "tok", "--userpin", USER_PIN)
    # session, Load + Unseal + FlushContext per PIN (SO and user here), Load + FlushContext
    # per key; the last Load ends the session.
    assert n_keys == 7 and n == 1 + 3 * 2 + 2 * n_keys, detail
    n, hist, detail = counted("changepin", "--label", "tok", "--user", "user", "--old", USER_PIN,
                              "--new", "user2")
    assert n == 4, detail
    n, hist, detail = counted("initpin", "--label", "tok", "--sopin", SO_PIN, "--userpin",
                              USER_PIN)
    assert n == 5, detail
    assert counted("listobjects", "--label", "tok")[0] == 0
    assert counted("ssh-pubkey", "--label", "tok")[0] == 0


def test_module_login_and_first_sign(swtpm, store, tmp_path):
    """C_Login and the first C_Sign of our module (pkcs11-tool --login --sign)."""
    requires_tool("pkcs11-tool")
    env = ptool_env(swtpm, store, TPM2_PTOOL_SOPIN=SO_PIN, TPM2_PTOOL_USERPIN=USER_PIN)
    run_ptool(["init"], env)
    run_ptool(["addtoken", "--pid", "1", "--label", "tok"], env)
    run_ptool(["addkey", "--label", "tok", "--algorithm", "ecc256", "--key-label", "k1"], env)
    module = os.environ.get("PTOOL_MODULE", str(REPO_ROOT / "build" / "pkcs11" /
                                                 "tpm2-ptool-pkcs11.so"))
    requires_file(module, "our PKCS#11 module")
    msg = tmp_path / "msg"
    msg.write_bytes(b"x" * 32)
    base = ["pkcs11-tool", "--module", module, "--token-label", "tok"]
    n_login, _, d_login = _count(swtpm, store, tmp_path, [
        "module", *base, "--login", "--pin", USER_PIN, "--list-objects"])
    n_sign, hist, d_sign = _count(swtpm, store, tmp_path, [
        "module", *base, "--login", "--pin", USER_PIN, "--sign", "-m", "ECDSA", "--label", "k1",
        "-i", str(msg), "-o", str(tmp_path / "sig")])
    # C_Login: salted session + the seal's Load, Unseal, FlushContext (+ the session's
    # FlushContext at C_Logout/C_Finalize: the session stays for the signatures).
    assert n_login == 5, d_login
    # First C_Sign: the key's Load and the Sign (+ its flush at C_Finalize).
    assert n_sign - n_login == 3 and hist.get("Sign") == 1 and hist.get("Load") == 2, d_sign
