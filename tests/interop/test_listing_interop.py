"""listprimaries / listtokens / listobjects / config / objmod print exactly what upstream's
tpm2_ptool 1.9.0 prints for the same store (listobjects' CKA_ID too: upstream's one-element
list); rmkey / objdel / rmtoken leave a store the upstream module still loads."""

import pytest
import yaml

from ptool_fixtures import (UPSTREAM_MODULE, ptool_env, requires_file, requires_tool, run,
                            run_ptool, run_upstream, store_query)

KEYS = [  # (algorithm, key label, --id)
    ("ecc256", "k1", None),
    ("rsa2048", "yes", None),          # PyYAML must quote it (reads back as a bool)
    ("aes128", "a: b #c", None),        # indicators inside
    ("hmac:sha256", None, "12345678"),  # no label; all-digit CKA_ID hex
    ("ecc256", "ключ", None),           # non-ASCII: PyYAML escapes it in double quotes
    ("ecc256", "- dash", "x y"),
]


@pytest.fixture(scope="module")
def shared(abrmd_module, tmp_path_factory):
    requires_tool("tpm2_ptool")
    base = tmp_path_factory.mktemp("listing")
    store = base / "store"
    store.mkdir(mode=0o700)
    env = ptool_env(abrmd_module, store)
    run_ptool(["init"], env)
    run_ptool(["init"], env)  # a second row for the primary at 0x81000001 (reused)
    run_ptool(["init", "--transient-parent", "tpm2-tools-ecc-default"], env)
    for label in ("tok", "other"):
        run_ptool(["addtoken", "--pid", "1", "--label", label, "--sopin", "so", "--userpin",
                   "user"], env)
    run_ptool(["addtoken", "--pid", "2", "--label", "tok2", "--sopin", "so", "--userpin", ""], env)
    run_ptool(["addemptytoken", "--pid", "1"], env)
    for alg, label, kid in KEYS:
        args = ["addkey", "--label", "tok", "--algorithm", alg, "--userpin", "user"]
        args += ["--key-label", label] if label else []
        args += ["--id", kid] if kid else []
        run_ptool(args, env)
    key = base / "c.key"
    pem = base / "c.pem"
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", pem, "-subj", "/CN=interop", "-days", "1"])
    run_ptool(["addcert", "--label", "tok", "--key-label", "k1", pem], env)
    run_ptool(["config", "--label", "other", "--key", "tcti", "--value", "tabrmd:bus_type=session"],
              env)
    return {"env": env, "store": store, "dir": base}


def _both(shared, args):
    ours = run_ptool(args, shared["env"])
    theirs = run_upstream(args, shared["env"])
    return ours.stdout, theirs.stdout


def _same(shared, args):
    ours, theirs = _both(shared, args)
    assert ours == theirs, f"{args}\n--- ours ---\n{ours}\n--- upstream ---\n{theirs}"
    return ours


def test_listprimaries(shared):
    out = _same(shared, ["listprimaries"])
    assert [p["id"] for p in yaml.safe_load(out)] == [1, 2, 3]


@pytest.mark.parametrize("pid", [1, 2, 3])
def test_listtokens(shared, pid):
    _same(shared, ["listtokens", "--pid", str(pid)])


def test_listtokens_shows_null_label(shared):
    out = run_ptool(["listtokens", "--pid", "1"], shared["env"]).stdout
    assert "label: null" in out


def test_listobjects_matches_upstream_with_cka_id_list(shared):
    ours = _same(shared, ["listobjects", "--label", "tok"])
    objs = yaml.safe_load(ours)
    assert all(isinstance(o["CKA_ID"], list) and len(o["CKA_ID"]) == 1 for o in objs)
    assert "'yes'" in ours and '"\\u043A' in ours


@pytest.mark.parametrize("label", ["tok", "other", "tok2"])
def test_config_dump_and_keys(shared, label):
    _same(shared, ["config", "--label", label])
    for key in ("token-init", "tcti"):
        _same(shared, ["config", "--label", label, "--key", key])


def test_objmod_dump_matches_upstream(shared):
    ids = [r[0] for r in store_query(shared["store"], "SELECT id FROM tobjects ORDER BY id")]
    assert len(ids) >= 10
    for oid in ids:
        _same(shared, ["objmod", "--id", str(oid)])
        _same(shared, ["objmod", "--id", str(oid), "--key", "CKA_LABEL"])
        _same(shared, ["objmod", "--id", str(oid), "--key", "CKA_CLASS"])


def test_edits_leave_store_loadable_by_upstream_module(shared):
    requires_file(UPSTREAM_MODULE, "upstream PKCS#11 module")
    env = shared["env"]
    run_ptool(["rmkey", "--label", "tok", "--key-label", "k1"], env)
    first = store_query(shared["store"], "SELECT min(id) FROM tobjects")[0][0]
    run_ptool(["objdel", str(first)], env)
    run_ptool(["rmtoken", "--label", "other"], env)
    run_ptool(["objmod", "--id", str(first + 1), "--key", "CKA_LABEL", "--value", "renamed",
               "--type", "str"], env)
    listing = yaml.safe_load(run_upstream(["listobjects", "--label", "tok"], env).stdout)
    assert "k1" not in [o["CKA_LABEL"] for o in listing]
    out = run(["ssh-keygen", "-D", UPSTREAM_MODULE], env=env).stdout
    assert len(out.splitlines()) >= 2, out
    # the comment (CKA_LABEL) is everything after the key blob; base64 may contain "k1"
    assert "k1" not in [line.split(" ", 2)[2] if line.count(" ") >= 2 else "" for line in out.splitlines()]
