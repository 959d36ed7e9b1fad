"""NSS (modutil, certutil) with our module, and the same commands with upstream's
libtpm2_pkcs11.so on a copy of the store: the module is added to an NSS database, the
certificate our `tpm2-ptool addcert` stored is found by its label, the keys are listed after
login (PIN from a password file), and NSS signs a certificate request with a token key.

Intentional difference: upstream has one more slot (an uninitialized token for C_InitToken),
which NSS lists as `Checking token "" in slot ""`; only the lines about token "tok" are
compared."""

import re

import pytest
from cryptography import x509

from p11_clients import exported_public_pem, issue_cert, sides, spki_der
from p11_common import USER_PIN, provision
from ptool_fixtures import assert_no_tpm_leaks, requires_tool, run, run_ptool

# Keys that get a certificate (CKA_LABEL of the certificate = the key's label).
CERT_KEYS = ("k256", "krsa")
KEY_LINE = re.compile(r'^<\s*\d+> (\w+)\s+"([^"]*)"\s+(.*)$', re.M)


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    for tool in ("certutil", "modutil", "openssl"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("nss")
    store = base / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm_module.tcti, store)
    certs = {}
    for label in CERT_KEYS:
        pem = exported_public_pem(token["env"], label, base)
        certs[label] = issue_cert(pem, base / f"{label}.crt", f"{label} via NSS")
        run_ptool(["addcert", "--label", "tok", "--key-label", label, certs[label]],
                  token["env"])
    token.update(tcti=swtpm_module.tcti, certs=certs, sides=sides(token, base / "sides"))
    for side in token["sides"].values():
        _nss_db(side)
    assert_no_tpm_leaks(swtpm_module.tcti)
    return token


def _nss_db(side):
    """An empty NSS database with the side's module added as "tpm", and a password file."""
    side.db = side.dir / "nssdb"
    side.db.mkdir(mode=0o700)
    side.pinfile = side.dir / "pin.txt"
    side.pinfile.write_text(USER_PIN + "\n")
    side.pinfile.chmod(0o600)
    side.run(["certutil", "-N", "-d", f"sql:{side.db}", "--empty-password"])
    side.run(["modutil", "-add", "tpm", "-libfile", side.module, "-dbdir", f"sql:{side.db}",
              "-force"])


def _certutil(token, who, *args, check=True):
    side = token["sides"][who]
    # setsid: without a controlling terminal a missing PIN fails instead of prompting on
    # /dev/tty (NSS opens it directly).
    proc = side.run(["setsid", "-w", "certutil", "-d", f"sql:{side.db}", *args], check=check)
    assert_no_tpm_leaks(token["tcti"])
    return proc


def _both(token, *args, login=False):
    out = {}
    for who, side in token["sides"].items():
        extra = ["-f", side.pinfile] if login else []
        out[who] = _certutil(token, who, *args, *extra)
    return out


def test_modutil_lists_the_token(token):
    for who, side in token["sides"].items():
        out = side.run(["modutil", "-list", "-dbdir", f"sql:{side.db}"]).stdout
        ours = out[out.index("tpm\n\tlibrary name: "):]
        assert f"\tlibrary name: {side.module}\n" in ours, (who, out)
        assert "\tstatus: loaded\n" in ours, (who, out)
        assert re.search(r"^\ttoken: tok\n\t  uri: pkcs11:token=tok;", ours, re.M), (who, out)


def test_certutil_lists_certificates_by_label(token):
    out = _both(token, "-L", "-h", "all")
    for who, proc in out.items():
        listed = {m.group(1): m.group(2) for m in
                  re.finditer(r"^(tok:\S+)\s+(\S+)\s*$", proc.stdout, re.M)}
        # u,u,u: NSS found the private key of each certificate (a user certificate).
        assert listed == {f"tok:{label}": "u,u,u" for label in CERT_KEYS}, (who, proc.stdout)


@pytest.mark.parametrize("label", CERT_KEYS)
def test_certutil_reads_the_certificate_by_nickname(token, label):
    want = token["certs"][label].read_text()
    for who, proc in _both(token, "-L", "-h", "tok", "-n", f"tok:{label}", "-a",
                           login=True).items():
        got = x509.load_pem_x509_certificate(proc.stdout.encode())
        assert got == x509.load_pem_x509_certificate(want.encode()), who
        assert got.subject.rfc4514_string() == f"CN={label} via NSS"


def test_certutil_lists_keys_after_login(token):
    out = _both(token, "-K", "-h", "tok", login=True)
    keys = {who: sorted((m.group(1), m.group(2), m.group(3).strip())
                        for m in KEY_LINE.finditer(p.stdout)) for who, p in out.items()}
    assert sorted((kind, label) for kind, _, label in keys["ours"]) == [
        ("ec", "k256"), ("ec", "k384"), ("rsa", "krsa")]
    # The middle column is the key's CKA_ID (the ASCII our CLI stores).
    assert {label: kid for _, kid, label in keys["ours"]} == {
        label: bytes.fromhex(kid).decode() for label, kid in token["ids"].items()}
    assert keys["ours"] == keys["upstream"]


def test_certutil_without_pin_file_lists_no_keys(token):
    # No terminal and no password file: NSS cannot log in and lists no private key.
    for who in token["sides"]:
        proc = _certutil(token, who, "-K", "-h", "tok", check=False)
        assert proc.returncode != 0 and not KEY_LINE.search(proc.stdout), (who, proc.stdout)
        assert "could not authenticate to token tok" in proc.stderr, (who, proc.stderr)


@pytest.mark.parametrize("label,signature", [("k256", "ecdsa-with-SHA256"),
                                             ("krsa", "sha256WithRSAEncryption")])
def test_certutil_signs_a_request_with_a_token_key(token, label, signature):
    """certutil -R: NSS makes a PKCS#10 request signed by the token key (C_Sign in the
    TPM); openssl checks the signature with the public key inside."""
    for who, side in token["sides"].items():
        csr = side.dir / f"{label}.csr"
        _certutil(token, who, "-R", "-h", "tok", "-f", side.pinfile, "-k", token["ids"][label],
                  "-s", f"CN={label} request", "-a", "-o", csr, "-z", "/dev/null")
        proc = run(["openssl", "req", "-in", csr, "-verify", "-noout", "-text"])
        assert "verify OK" in proc.stdout + proc.stderr, who
        assert f"Signature Algorithm: {signature}" in proc.stdout, who
        pub = run(["openssl", "req", "-in", csr, "-noout", "-pubkey"]).stdout
        assert spki_der(pub) == spki_der(exported_public_pem(token["env"], label, side.dir))
