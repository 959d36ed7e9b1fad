"""Differential test of stdout: every subcommand that prints, run by upstream's tpm2_ptool
1.9.0 and by ours, compared byte for byte (after masking random values) with the exit status
class (0, usage = 2, other).

Two kinds of rows, each naming the upstream behaviour it pins down:

* WRITE rows change a store. Upstream runs them on its store, we run the same argv on ours
  (both fresh, on the same TPM through tpm2-abrmd), so both stores evolve alike. Random
  values (generated CKA_IDs) are masked, keeping their quotes: the quoting is compared.
* READ rows change nothing. Both tools run them on the *same* store, so nothing needs
  masking: first on the store upstream wrote (the drop-in case), then some on ours.

Rows marked BROKEN are where upstream 1.9.0 fails (README "Compatibility"): upstream's
failure is checked to still be there, and ours must succeed. Argument forms (repeated,
abbreviated, empty options) are tests/interop/test_fidelity_args.py's.
"""

import re
from dataclasses import dataclass, field

import pytest

from ptool_fixtures import ptool_env, requires_tool, reset_lockout, run, run_ptool, run_upstream

SO, USER, USER2 = "so-pin", "user-pin", "user-pin-2"


@dataclass
class Row:
    name: str
    args: list
    pins: str  # the upstream behaviour this row pins down
    masks: list = field(default_factory=list)  # (regex, replacement) applied to both stdouts
    broken: str = ""  # upstream 1.9.0 fails here; what breaks
    stdout: bool = True  # compare stdout (False only where upstream's is a traceback)
    ours_extra: list = field(default_factory=list)  # BROKEN rows only: options upstream lacks
    ours_status: str = ""  # our exit class where it differs on purpose (README "Compatibility")


# Generated CKA_ID: hex of 16 random hex digits = 32 decimal digits; PyYAML quotes it.
RANDOM_ID = (r"(CKA_ID: |  - )('?)[0-9]{32}('?)\n", r"\1\2<ID>\3\n")

WRITE_ROWS = [
    # Both tools share one TPM and upstream runs first: ours then finds upstream's identical
    # primary at 0x81000001 and reuses it, printing upstream's word for an existing handle
    # (README "init on a TPM that already has a primary"); the shape is what this row pins.
    Row("init", ["init"], "init prints {action: Created, id: N} sorted, plus print()'s blank line",
        masks=[(r"action: (Created|Added)\n", "action: <Created|Added>\n")]),
    Row("init-transient", ["init", "--transient-parent", "tpm2-tools-default"],
        "init of a transient primary: same report, next id"),
    Row("addtoken", ["addtoken", "--pid", "1", "--label", "tok", "--sopin", SO, "--userpin", USER],
        "addtoken prints nothing"),
    Row("addtoken-empty-userpin", ["addtoken", "--pid", "1", "--label", "yes", "--sopin", SO,
                                   "--userpin", ""], "a token with an empty user PIN"),
    Row("addtoken-transient", ["addtoken", "--pid", "2", "--label", "tt", "--sopin", SO,
                               "--userpin", USER], "a token under a transient primary"),
    Row("addemptytoken", ["addemptytoken", "--pid", "1"], "addemptytoken prints nothing"),
    Row("addtoken-after-empty", ["addtoken", "--pid", "1", "--label", "late", "--sopin", SO,
                                 "--userpin", USER], "token 5 gets seal object 4"),
    Row("addtoken-duplicate", ["addtoken", "--pid", "1", "--label", "tok", "--sopin", SO,
                               "--userpin", USER], "an existing label fails, nothing on stdout",
        ours_status="usage"),  # upstream: an IntegrityError traceback, exit 1
    Row("addkey-plain-hex-id", ["addkey", "--label", "tok", "--algorithm", "ecc256", "--id",
                                "kid1", "--key-label", "k1", "--userpin", USER],
        "CKA_ID 6b696431 is not a number for PyYAML: printed plain"),
    Row("addkey-digit-id", ["addkey", "--label", "tok", "--algorithm", "rsa2048", "--id", "1234",
                            "--key-label", "yes", "--userpin", USER],
        "CKA_ID 31323334 reads back as an int: single-quoted"),
    Row("addkey-random-id", ["addkey", "--label", "tok", "--algorithm", "aes128", "--key-label",
                             "a: b #c", "--userpin", USER], "generated CKA_ID, quoted", [RANDOM_ID]),
    Row("addkey-hmac", ["addkey", "--label", "tok", "--algorithm", "hmac:sha256", "--id", "h",
                        "--key-label", "mac", "--userpin", USER], "hmac key: private object only"),
    Row("addkey-empty-pin-token", ["addkey", "--label", "yes", "--algorithm", "ecc256", "--id",
                                   "e1", "--key-label", "ek", "--userpin", ""],
        "addkey on the empty-user-PIN token"),
    Row("addkey-transient", ["addkey", "--label", "tt", "--algorithm", "ecc256", "--id", "t1",
                             "--key-label", "tk", "--userpin", USER], "addkey, transient primary"),
    Row("addkey-no-token", ["addkey", "--label", "nosuch", "--algorithm", "ecc256", "--userpin",
                            USER], "unknown token: error, nothing on stdout"),
    Row("addkey-wrong-pin", ["addkey", "--label", "tok", "--algorithm", "ecc256", "--userpin",
                             "wrong"], "wrong user PIN: error, nothing on stdout"),
    Row("import-pem", ["import", "--label", "tok", "--privkey", "{dir}/imp.pem", "--id", "imp",
                       "--algorithm", "ecc", "--key-label", "imp", "--userpin", USER],
        "import prints {action: import, private/public: {CKA_ID}}"),
    Row("import-openssh", ["import", "--label", "tok", "--privkey", "{dir}/ssh-ec", "--id", "ssh",
                           "--algorithm", "ecc", "--key-label", "ssh", "--userpin", USER],
        "import of an OpenSSH key"),
    Row("addcert", ["addcert", "--label", "tok", "--key-label", "k1", "{dir}/cert.pem"],
        "addcert prints {action: add, cert: {CKA_ID}}"),
    Row("config-set", ["config", "--label", "tok", "--key", "tcti", "--value",
                       "tabrmd:bus_type=session"], "config --value prints nothing"),
    Row("changepin", ["changepin", "--label", "tok", "--user", "user", "--old", USER, "--new",
                      USER2], "changepin prints nothing"),
    Row("changepin-wrong-old", ["changepin", "--label", "tok", "--user", "user", "--old", "bad",
                                "--new", "x"], "a wrong old PIN fails, nothing on stdout"),
    Row("initpin", ["initpin", "--label", "tt", "--sopin", SO, "--userpin", USER2],
        "initpin prints nothing"),
    Row("dbup", ["dbup"], "dbup prints {new: 8, old: 8}"),
    Row("changepin-seal-id-differs", ["changepin", "--label", "late", "--user", "user", "--old",
                                      USER, "--new", USER2], "prints nothing (see BROKEN_ROWS)"),
]

READ_ROWS = [
    Row("listprimaries", ["listprimaries"],
        "list of {config: {esys-tr | template-name, transient}, id}; no indent for lists"),
    Row("listtokens", ["listtokens", "--pid", "1"], "label null for the empty token, 'yes' quoted"),
    Row("listtokens-none", ["listtokens", "--pid", "99"], "no such primary: nothing on stdout",
        ours_status="other"),  # upstream exits 0; we say "not found", exit 6
    Row("listobjects", ["listobjects", "--label", "tok"],
        "CKA_ID as a one-element list, labels quoted where PyYAML must"),
    Row("listobjects-empty-pin-token", ["listobjects", "--label", "yes"], "one key"),
    Row("listobjects-no-token", ["listobjects", "--label", "nosuch"],
        "unknown token: error (upstream: a traceback on stderr)"),
    Row("config-dump", ["config", "--label", "tok"], "the token's config map, sorted"),
    Row("config-key", ["config", "--label", "tok", "--key", "tcti"], "key=value, not YAML"),
    Row("config-key-unset", ["config", "--label", "yes", "--key", "tcti"], "unset: 'tcti='"),
    Row("objmod-dump", ["objmod", "--id", "1"], "every attribute, integer keys in order"),
    Row("objmod-ec-params", ["objmod", "--id", "1", "--key", "CKA_EC_PARAMS"],
        "a hex value as the row holds it (upstream stores 06082A8648CE3D030107)"),
    Row("objmod-label", ["objmod", "--id", "3", "--key", "CKA_LABEL"], "label hex"),
    Row("objmod-no-object", ["objmod", "--id", "999"], "unknown object: error"),
    Row("objmod-unknown-key-number", ["objmod", "--id", "1", "--key", "12345"],
        "an attribute number with no CKA_ name: error (upstream: a TypeError traceback)"),
    Row("verify", ["verify", "--label", "tok", "--sopin", SO, "--userpin", USER2],
        "verify's report: config, label, objects with auth/encauth, pin, wrappingkey"),
    Row("verify-wrong-pin", ["verify", "--label", "tok", "--userpin", "bad"],
        "a wrong PIN fails"),
    Row("export", ["export", "--label", "tok", "--key-label", "k1", "--userpin", USER2,
                   "--output-prefix", "{out}/k1"],
        "object-auth plain (scripts do grep object-auth | cut -d' ' -f2-)"),
    Row("export-transient", ["export", "--label", "tt", "--key-label", "tk", "--userpin", USER2,
                             "--output-prefix", "{out}/tk"], "export under a transient primary",
        broken="upstream reads the primary's esys-tr, which a transient primary has not"),
]
# The subset also run by both tools on the store we wrote.
READ_ON_OURS = {"listobjects", "objmod-ec-params", "verify", "export"}

# WRITE rows that remove things, run after the READ rows.
POST_ROWS = [
    Row("link-no-pin", ["link", "--label", "tok", "--auth", "{auth}", "{pem}"],
        "no PIN: an error, nothing on stdout", ours_status="usage"),  # upstream exits 1
    Row("link", ["link", "--label", "tok", "--key-label", "linked", "--id", "lnk", "--auth",
                 "{auth}", "--userpin", USER2, "{pem}"],
        "link of the TSS2 PEM export wrote prints {action: link, private/public: {CKA_ID}}"),
    Row("objdel", ["objdel", "1"], "objdel prints nothing"),
    Row("objdel-no-object", ["objdel", "999"], "unknown object: error (upstream: a TypeError)"),
    Row("rmtoken", ["rmtoken", "--label", "yes"], "rmtoken prints nothing"),
    Row("rmtoken-no-token", ["rmtoken", "--label", "nosuch"], "unknown token: error"),
    Row("listtokens-after-rmtoken", ["listtokens", "--pid", "1"], "the removed token is gone"),
    Row("listobjects-after-objdel", ["listobjects", "--label", "tok"], "the object is gone",
        [RANDOM_ID]),
]

BROKEN_ROWS = [
    Row("verify-after-changepin", ["verify", "--label", "late", "--userpin", USER2],
        "the new PIN works after changepin",
        broken="upstream updates sealobjects WHERE id=<token id>: token 5's seal is row 4"),
    Row("destroy", ["destroy", "--pid", "2"], "destroy of a primary and its tokens",
        broken="upstream 1.9.0 reads a 'handle' column pobjects does not have",
        ours_extra=["--yes"]),  # ours confirms on a terminal only (README "Compatibility")
]


def _status(rc):
    return "ok" if rc == 0 else "usage" if rc == 2 else "other"


def _masked(text, masks):
    for pattern, repl in masks:
        text = re.sub(pattern, repl, text)
    return text


def _argv(row, ctx, out, **more):
    return [a.format(dir=ctx["dir"], out=out, **more) for a in row.args]


def _export(ctx, store):
    """The object auth and TSS2 PEM file that `export` of k1 gave `store`'s own tool."""
    out = ctx["results"][f"export@{store}"][store].stdout
    auth = re.search(r"^object-auth: (.*)$", out, re.M).group(1)
    return {"auth": auth, "pem": ctx["dir"] / f"out-{store}-{store}" / "k1.pem"}


@pytest.fixture(scope="module")
def ctx(abrmd_module, tmp_path_factory):
    for tool in ("tpm2_ptool", "openssl", "ssh-keygen"):
        requires_tool(tool)
    base = tmp_path_factory.mktemp("fidelity")
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", base / "imp.pem"])
    run(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-f", base / "ssh-ec"])
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", base / "cert.key", "-out", base / "cert.pem", "-subj",
         "/CN=fidelity", "-days", "2"])
    envs = {}
    for name in ("upstream", "ours"):
        store = base / f"store-{name}"
        store.mkdir(mode=0o700)
        envs[name] = ptool_env(abrmd_module, store, home=base / f"home-{name}")
    c = {"dir": base, "envs": envs, "results": {}}
    tools = {"upstream": run_upstream, "ours": run_ptool}
    for row in WRITE_ROWS:
        c["results"][row.name] = {
            name: tools[name](_argv(row, c, base), envs[name], check=False)
            for name in ("upstream", "ours")}
        if "wrong" in row.name:  # each wrong PIN counts against the TPM's lockout
            reset_lockout(abrmd_module)
    for row in READ_ROWS:
        for store in ("upstream", "ours"):
            if store == "ours" and row.name not in READ_ON_OURS:
                continue
            res = {}
            for tool in ("upstream", "ours"):
                out = base / f"out-{store}-{tool}"
                out.mkdir(exist_ok=True)
                res[tool] = tools[tool](_argv(row, c, out), envs[store], check=False)
            c["results"][f"{row.name}@{store}"] = res
            if "wrong" in row.name:
                reset_lockout(abrmd_module)
    for row in POST_ROWS:
        c["results"][row.name] = {
            name: tools[name](_argv(row, c, base, **_export(c, name)), envs[name], check=False)
            for name in ("upstream", "ours")}
    for row in BROKEN_ROWS:
        c["results"][row.name] = {
            "upstream": run_upstream(_argv(row, c, base), envs["upstream"], check=False,
                                     input="y\n"),
            "ours": run_ptool(_argv(row, c, base) + row.ours_extra, envs["ours"], check=False)}
        reset_lockout(abrmd_module)  # upstream's failed verify counted a wrong PIN
    return c


def _compare(row, res):
    theirs, ours = res["upstream"], res["ours"]
    if row.broken:
        assert theirs.returncode != 0, f"upstream no longer broken ({row.broken}):\n" \
            f"{theirs.stdout}{theirs.stderr}"
        assert ours.returncode == 0, ours.stderr
        return
    assert _status(ours.returncode) == (row.ours_status or _status(theirs.returncode)), \
        f"{row.pins}\nours rc={ours.returncode}: {ours.stderr}\n" \
        f"upstream rc={theirs.returncode}: {theirs.stderr}"
    if row.stdout:
        a, b = _masked(ours.stdout, row.masks), _masked(theirs.stdout, row.masks)
        assert a == b, f"{row.pins}\n--- ours ---\n{ours.stdout!r}\n--- upstream ---\n" \
            f"{theirs.stdout!r}"


@pytest.mark.parametrize("row", WRITE_ROWS, ids=lambda r: r.name)
def test_write_row(ctx, row):
    _compare(row, ctx["results"][row.name])


@pytest.mark.parametrize("row", READ_ROWS, ids=lambda r: r.name)
def test_read_row_on_upstream_store(ctx, row):
    _compare(row, ctx["results"][f"{row.name}@upstream"])


@pytest.mark.parametrize("row", [r for r in READ_ROWS if r.name in READ_ON_OURS],
                         ids=lambda r: r.name)
def test_read_row_on_our_store(ctx, row):
    _compare(row, ctx["results"][f"{row.name}@ours"])


@pytest.mark.parametrize("row", POST_ROWS, ids=lambda r: r.name)
def test_post_row(ctx, row):
    _compare(row, ctx["results"][row.name])


@pytest.mark.parametrize("row", BROKEN_ROWS, ids=lambda r: r.name)
def test_broken_upstream_row(ctx, row):
    _compare(row, ctx["results"][row.name])


def test_rows_cover_every_printing_subcommand():
    """Every upstream subcommand appears in a row (the argument forms are test_fidelity_args')."""
    upstream = {"init", "destroy", "dbup", "rmtoken", "verify", "addtoken", "addemptytoken",
                "changepin", "initpin", "config", "listprimaries", "listtokens", "listobjects",
                "import", "addkey", "addcert", "objmod", "objdel", "link", "export"}
    covered = {r.args[0] for r in WRITE_ROWS + READ_ROWS + POST_ROWS + BROKEN_ROWS}
    assert upstream <= covered, upstream - covered
