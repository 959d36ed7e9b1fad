"""Helpers for the tests that drive the module through real PKCS#11 clients (GnuTLS's
p11tool, NSS's modutil/certutil, OpenSSL's pkcs11 engine, OpenSC's pkcs11-tool), next to
upstream's libtpm2_pkcs11.so on a copy of the same store.

A test gets a provisioned token (``p11_common.provision``), then ``sides(token, base)``: one
:class:`Side` per module, each with its own copy of the store, so whatever a client writes
through one module cannot change what the other sees. ``Side.run`` runs a client with that
side's environment. Add a client by writing its wrapper here (as :func:`p11tool`) and its test
file next to the others (tests/pkcs11/test_p11tool.py, test_nss.py, test_openssl_engine.py).
"""

import datetime
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from p11_common import USER_PIN, _store_copy, module_path
from ptool_fixtures import UPSTREAM_MODULE, requires_file, requires_tool, run, run_ptool


def hosted(module, argv):
    """`argv` run through `sh -c 'exec "$@"' MODULE ...`: the command line then names the
    module, which is how the ASan pass (sanitizer_plugin.py) recognises a process that loads
    our instrumented module and preloads libasan into it. Needed for clients that find the
    module in a config file or database (certutil, openssl with an engine section) rather
    than on their command line. Without PTOOL_SANITIZER it only costs one exec."""
    return ["sh", "-c", 'exec "$@"', str(module), *map(str, argv)]


@dataclass
class Side:
    """One module (ours or upstream's) with its own copy of the token's store."""
    who: str
    module: str
    env: dict
    store: Path
    dir: Path

    def run(self, argv, check=True, input="", env_extra=None, timeout=None):
        """Runs `argv` with this side's environment; stdin is empty (never a terminal)."""
        env = dict(self.env, **(env_extra or {}))
        kw = {"timeout": timeout} if timeout else {}
        return run(hosted(self.module, argv), env=env, check=check, input=input, **kw)


def sides(token, base, upstream=True):
    """{"ours": Side, "upstream": Side}; each on a copy of `token`'s store under `base`."""
    out = {}
    modules = [("ours", module_path())]
    if upstream:
        modules.append(("upstream", requires_file(UPSTREAM_MODULE, "upstream libtpm2_pkcs11.so")))
    for who, module in modules:
        d = Path(base) / who
        d.mkdir(mode=0o700, parents=True)
        store = _store_copy(token["store"], d / "store")
        env = dict(token["env"], TPM2_PKCS11_STORE=str(store))
        if who == "upstream":
            # Upstream's leaks are not ours to report (ASan pass).
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
        out[who] = Side(who, str(module), env, store, d)
    return out


# --------------------------------------------------------------------------
# Keys and certificates of the token, as our CLI sees them
# --------------------------------------------------------------------------

def object_ids(env, token="tok"):
    """{(class, label): store object id} from `tpm2-ptool listobjects`."""
    objs = yaml.safe_load(run_ptool(["listobjects", "--label", token], env).stdout) or []
    return {(o["CKA_CLASS"], o["CKA_LABEL"]): o["id"] for o in objs}


def exported_public_pem(env, label, out_dir, token="tok"):
    """The key's public half as `tpm2-ptool export --id <its public object>` writes it (PEM)."""
    oid = object_ids(env, token)[("CKO_PUBLIC_KEY", label)]
    prefix = Path(out_dir) / f"export-{label}"
    run_ptool(["export", "--id", str(oid), "--output-prefix", str(prefix), "--force"], env)
    return Path(f"{prefix}.pem").read_text()


def spki_der(pem):
    """SubjectPublicKeyInfo DER of a PEM public key (any PEM spelling of the same key)."""
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def issue_cert(public_pem, path, cn, serial=1):
    """An X.509 certificate for `public_pem` (a token key), issued by a throw-away software CA
    (so no token signature is involved in making it). Returns the PEM path."""
    ca = ec.generate_private_key(ec.SECP256R1())
    start = datetime.datetime(2025, 1, 1)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ptool test CA")]))
            .public_key(serialization.load_pem_public_key(public_pem.encode()))
            .serial_number(serial)
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .sign(ca, hashes.SHA256()))
    Path(path).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Path(path)


# --------------------------------------------------------------------------
# GnuTLS p11tool
# --------------------------------------------------------------------------

# The token identity GnuTLS puts in its URLs: ours names itself, upstream names the TPM's
# vendor (docs: CK_TOKEN_INFO differs on purpose). Compared with these removed.
_URL_IDENTITY = re.compile(r"(model|manufacturer|serial)=[^;\n]*;")
_INFO_IDENTITY = re.compile(r"^\s*(Manufacturer|Model|Serial|Module):.*\n", re.M)


def p11tool(side, *args, pin=USER_PIN, check=True):
    """`p11tool --provider MODULE ARGS` (the PIN through GNUTLS_PIN, never argv)."""
    requires_tool("p11tool")
    extra = {"GNUTLS_PIN": pin} if pin is not None else {}
    return side.run(["p11tool", "--batch", "--provider", side.module, *args], check=check,
                    env_extra=extra)


def without_token_identity(text):
    """p11tool output with the token's manufacturer/model/serial removed (see above)."""
    return _INFO_IDENTITY.sub("", _URL_IDENTITY.sub("", text))


def p11tool_tokens(text):
    """`p11tool --list-tokens` output split into one dict per token."""
    tokens = []
    for block in re.split(r"^Token \d+:\n", text, flags=re.M)[1:]:
        fields = {}
        for line in block.splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep:
                fields[key] = value
            elif line.strip().endswith(":"):
                fields[line.strip()[:-1]] = ""
        tokens.append(fields)
    return tokens


# --------------------------------------------------------------------------
# OpenSSL's pkcs11 engine (libp11)
# --------------------------------------------------------------------------

ENGINE_SO = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so"


def engine_config(side):
    """An OPENSSL_CONF that loads the pkcs11 engine with the side's module (MODULE_PATH);
    returns the env_extra for Side.run."""
    requires_file(ENGINE_SO, "OpenSSL's pkcs11 engine (libengine-pkcs11-openssl)")
    path = side.dir / "openssl-engine.cnf"
    path.write_text("openssl_conf = openssl_init\n"
                    "[openssl_init]\nengines = engine_section\n"
                    "[engine_section]\npkcs11 = pkcs11_section\n"
                    f"[pkcs11_section]\nengine_id = pkcs11\ndynamic_path = {ENGINE_SO}\n"
                    f"MODULE_PATH = {side.module}\ninit = 0\n")
    return {"OPENSSL_CONF": str(path)}
