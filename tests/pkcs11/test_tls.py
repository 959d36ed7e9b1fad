"""A TLS server whose private key stays in the token: GnuTLS's certtool makes a self-signed
certificate with the token key (through the module), gnutls-serv serves it with the key's
PKCS#11 URL, and OpenSSL's s_client checks the certificate and completes the handshake (the
server's CertificateVerify is a C_Sign in the TPM). ECDSA P-256 and P-384, RSA-2048 with
RSA-PSS (TLS 1.3) and with PKCS#1 v1.5 (TLS 1.2); our module and upstream's.

OpenSSL's pkcs11 engine as the TLS server: test_openssl_engine.py."""

import pytest

from p11_clients import sides
from p11_common import USER_PIN, provision
from ptool_fixtures import (_candidate_port, _Daemon, _listening_ports, _wait_for,
                            assert_no_tpm_leaks, requires_tool, run)

pytestmark = pytest.mark.no_asan(
    "GnuTLS hosts with the ASan preload hang at exit in libp11-kit's destructor "
    "(freelocale waits for glibc's setlocale lock), "
    "with upstream's module too (docs/reliability.md)")

CERT_TEMPLATE = """cn = "localhost"
expiration_days = 30
tls_www_server
signing_key
dns_name = "localhost"
ip_address = "127.0.0.1"
"""


@pytest.fixture(scope="module")
def token(swtpm_module, tmp_path_factory):
    for tool in ("certtool", "gnutls-serv", "openssl", "tpm2_flushcontext"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("tls")
    store = base / "store"
    store.mkdir(mode=0o700)
    token = provision(swtpm_module.tcti, store)
    token.update(tcti=swtpm_module.tcti, sides=sides(token, base / "sides"))
    (base / "cert.tmpl").write_text(CERT_TEMPLATE)
    token["template"] = base / "cert.tmpl"
    return token


def _self_signed(token, side, label):
    """certtool --generate-self-signed with the token key: the certificate's signature is
    made by the module."""
    path = side.dir / f"{label}.crt"
    if not path.exists():
        side.run(["certtool", "--provider", side.module, "--generate-self-signed",
                  "--load-privkey", f"pkcs11:token=tok;object={label};type=private",
                  "--template", token["template"], "--outfile", path],
                 env_extra={"GNUTLS_PIN": USER_PIN})
        assert_no_tpm_leaks(token["tcti"])
    return path


class _Server:
    """gnutls-serv on a free loopback port with the token key; stop() flushes the TPM
    session and loaded key the killed server could not close (swtpm has no resource
    manager: a kernel /dev/tpmrm0 or abrmd would flush them when the process goes)."""

    def __init__(self, token, side, label, cert):
        self.tcti = token["tcti"]
        self.port = _candidate_port()
        env = dict(side.env, GNUTLS_PIN=USER_PIN)
        self.daemon = _Daemon(
            ["sh", "-c", 'exec "$@"', side.module, "gnutls-serv", "--provider", side.module,
             "--x509keyfile", f"pkcs11:token=tok;object={label};type=private",
             "--x509certfile", cert, "--port", self.port],
            side.dir / f"gnutls-serv-{label}.log", env=env)
        _wait_for(lambda: self.port in _listening_ports(self.daemon.pid), self.daemon,
                  "gnutls-serv")

    def stop(self):
        self.daemon.stop()
        for kind in ("--transient-object", "--loaded-session"):
            run(["tpm2_flushcontext", "-T", self.tcti, kind])
        assert_no_tpm_leaks(self.tcti)


@pytest.mark.parametrize("who", ["ours", "upstream"])
@pytest.mark.parametrize("label,client_args,signature,protocol,server_sig", [
    ("k256", [], "ECDSA", "TLSv1.3", "ECDSA-SECP256R1-SHA256"),
    ("k384", [], "ECDSA", "TLSv1.3", "ECDSA-SECP384R1-SHA384"),
    ("krsa", [], "RSA-PSS", "TLSv1.3", "RSA-PSS-RSAE-SHA256"),
    ("krsa", ["-tls1_2", "-sigalgs", "RSA+SHA256"], "RSA", "TLSv1.2", "RSA-SHA256"),
])
def test_openssl_client_handshake(token, who, label, client_args, signature, protocol,
                                  server_sig):
    side = token["sides"][who]
    cert = _self_signed(token, side, label)
    server = _Server(token, side, label, cert)
    try:
        proc = run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.port}",
                    "-verify_return_error", "-CAfile", cert, "-brief", *client_args],
                   input="", check=False)
    finally:
        server.stop()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "CONNECTION ESTABLISHED" in out and "Verification: OK" in out, out
    assert f"Protocol version: {protocol}\n" in out, out
    assert f"Signature type: {signature}\n" in out, out
    assert "Peer certificate: CN = localhost\n" in out, out
    # The server's log names the signature it made with the token key.
    log = server.daemon.log()
    assert f"- Server Signature: {server_sig}\n" in log, log
