"""GnuTLS's p11tool with our module, and the same commands with upstream's libtpm2_pkcs11.so
on a copy of the store: token list, object list (without and with login), public key export
(compared with `tpm2-ptool export`), and p11tool's own sign/verify self test.

Intentional differences: the token's manufacturer, model and serial (ours: "tpm2-ptool",
"TPM2 token", the token id; upstream: the TPM vendor's strings), and upstream offers one extra
uninitialized token for C_InitToken. Both are left out of the comparisons."""

import pytest

from p11_clients import (exported_public_pem, p11tool, p11tool_tokens, sides, spki_der,
                         without_token_identity)
from p11_common import KEYS, provision
from ptool_fixtures import assert_no_tpm_leaks, reset_lockout

pytestmark = pytest.mark.no_asan(
    "GnuTLS hosts with the ASan preload hang at exit in libp11-kit's destructor "
    "(freelocale waits for glibc's setlocale lock), "
    "with upstream's module too (docs/reliability.md)")

LABELS = [label for _, label in KEYS]
# The curve / size names p11tool prints for each key of p11_common.KEYS.
KEY_TYPES = {"k256": "EC/ECDSA-SECP256R1", "k384": "EC/ECDSA-SECP384R1", "krsa": "RSA-2048"}


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    base = tmp_path_factory.mktemp("p11tool")
    store = base / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm_module.tcti, store)
    token.update(tcti=swtpm_module.tcti, sides=sides(token, base / "sides"), dir=base)
    return token


def _both(token, *args, **kw):
    out = {who: p11tool(side, *args, **kw) for who, side in token["sides"].items()}
    assert_no_tpm_leaks(token["tcti"])
    return out


def test_list_tokens(token):
    out = _both(token, "--list-tokens", pin=None)
    listed = {who: [t for t in p11tool_tokens(p.stdout) if t.get("Label")]
              for who, p in out.items()}
    [ours] = listed["ours"]
    assert ours["Label"] == "tok"
    assert ours["Flags"] == "RNG, Requires login"
    assert ours["URL"].startswith("pkcs11:") and ours["URL"].endswith(";token=tok")
    identity = ("URL", "Manufacturer", "Model", "Serial")
    assert ([{k: v for k, v in t.items() if k not in identity} for t in listed["upstream"]]
            == [{k: v for k, v in ours.items() if k not in identity}])


def test_list_all_without_login_shows_public_keys(token):
    out = _both(token, "--list-all", "pkcs11:token=tok", pin=None)
    ours = out["ours"].stdout
    assert ours.count("Type: Public key") == 3 and "Private key" not in ours
    for label in LABELS:
        assert f"Type: Public key ({KEY_TYPES[label]})\n\tLabel: {label}\n" in ours
        url_id = "".join(f"%{b:02x}" for b in bytes.fromhex(token["ids"][label]))
        assert f";id={url_id};object={label};type=public\n" in ours
    assert without_token_identity(ours) == without_token_identity(out["upstream"].stdout)


def test_list_all_with_login_shows_private_keys(token):
    out = _both(token, "--login", "--list-all", "pkcs11:token=tok")
    ours = out["ours"].stdout
    assert ours.count("Type: Private key") == 3 and ours.count("Type: Public key") == 3
    for label in LABELS:
        assert (f"Type: Private key ({KEY_TYPES[label]})\n\tLabel: {label}\n"
                "\tFlags: CKA_PRIVATE; CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE; \n") in ours
    assert without_token_identity(ours) == without_token_identity(out["upstream"].stdout)


@pytest.mark.parametrize("label", LABELS)
def test_export_pubkey_is_the_stored_key(token, label):
    # --outfile: without it p11tool waits 3 s after warning that it prints to the screen.
    pems = {}
    for who, side in token["sides"].items():
        path = side.dir / f"p11tool-{label}.pem"
        p11tool(side, "--export-pubkey", f"pkcs11:token=tok;object={label};type=public",
                "--outfile", path)
        pems[who] = path.read_text()
    assert_no_tpm_leaks(token["tcti"])
    ours = pems["ours"]
    assert ours.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert ours == pems["upstream"]
    assert spki_der(ours) == spki_der(exported_public_pem(token["env"], label, token["dir"]))


@pytest.mark.parametrize("label,args,algorithm", [
    ("k256", [], "ECDSA-SHA256"),
    ("k384", ["--hash", "SHA384"], "ECDSA-SHA384"),
    ("krsa", [], "RSA-SHA256"),
    ("krsa", ["--sign-params", "RSA-PSS"], "RSA-PSS-SHA256"),
])
def test_test_sign(token, label, args, algorithm):
    """p11tool signs through the module (C_Sign) and verifies with the private key's
    parameters and with the token's public key object: all three steps must say ok."""
    out = _both(token, "--login", "--test-sign", *args, f"pkcs11:token=tok;object={label}")
    expected = (f"Signing using {algorithm}... ok\n"
                "Verifying against private key parameters... ok\n"
                "Verifying against public key in the token... ok\n")
    for who, proc in out.items():
        assert proc.stdout + proc.stderr == expected, who


def test_wrong_pin_fails_and_signs_nothing(token):
    side = token["sides"]["ours"]
    proc = p11tool(side, "--login", "--test-sign", "pkcs11:token=tok;object=k256",
                   pin="not-the-pin", check=False)
    assert proc.returncode != 0
    assert "Signing using" not in proc.stdout
    assert_no_tpm_leaks(token["tcti"])
    reset_lockout(token["tcti"])
