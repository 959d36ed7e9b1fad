"""Differential test of argument parsing: upstream tpm2_ptool 1.9.0 (argparse) against ours.

Every subcommand x every option upstream declares x each form argparse gives a meaning to
(`--opt=value`, `--opt value`, repeated, abbreviated, ambiguous prefix, empty value, missing
value, a value starting with '-', after `--`, after the positional), and the top-level cases.
Each row says which argparse behaviour it pins down.

Upstream's verdict comes from upstream's own parser: tests/interop/upstream_argparse.py runs
tpm2_pkcs11's commandlet.init() under Debian's /usr/bin/python3 for all rows in one process
(argparse decides before any TPM or store use; a few rows are also run through the real
/usr/bin/tpm2_ptool below to show the two agree). Ours runs as the real binary against a store
that does not exist and a TCTI nobody listens on: a row it accepts fails later with "not
found" / "TPM unreachable", never with the usage status 2.

Then the effects, on a real swtpm store: the last of a repeated option is the one used.
"""

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from ptool_fixtures import (PTOOL_BIN, base_env, ptool_env, requires_file, requires_tool,
                            run_ptool, run_upstream, store_query)

HARNESS = Path(__file__).with_name("upstream_argparse.py")
UPSTREAM_PYTHON = "/usr/bin/python3"

# Rows where we differ from upstream on purpose: argv tuple -> why.
INTENTIONAL = {
    ("init", "--primary-handle", "--transient-parent"):
        "upstream's mutually exclusive group misses a --primary-handle without value "
        "(argparse sees its default None) and then ignores --transient-parent; we refuse the "
        "contradiction",
    ("init", "--primary-handle="):
        "upstream exits 1 from its handle converter; an empty handle is a usage error (2) here",
    ("link", "--label", "v1"):
        "upstream accepts no key file (privkey nargs='*') and links nothing; we ask for one",
}


def upstream_parser(vectors):
    requires_tool(UPSTREAM_PYTHON)
    requires_file("/usr/lib/python3/dist-packages/tpm2_pkcs11/command.py", "upstream tpm2_pkcs11")
    proc = subprocess.run([UPSTREAM_PYTHON, str(HARNESS)], input=json.dumps(vectors),
                          capture_output=True, text=True, check=True, timeout=120)
    return json.loads(proc.stdout)


def value_for(cmd, opt, second=False):
    """A value upstream and we both accept for `opt` (so only the parsing is under test)."""
    name = opt["name"]
    if opt["choices"]:
        return opt["choices"][-1 if second else 0]
    if opt["int"]:
        return "2" if second else "1"
    if name == "--primary-handle":
        return "0x81000002" if second else "0x81000001"
    if name == "--id" and cmd == "objmod":
        return "2" if second else "1"
    return "v2" if second else "v1"


POSITIONAL_VALUES = {"cert": ["c.pem"], "attrs": ["a.yaml"], "id": ["7"], "privkey": ["k.pem"]}


def base_args(cmd, spec, without=None):
    out = []
    for o in spec["options"]:
        if o["required"] and o["name"] != without:
            out += [o["name"], value_for(cmd, o)]
    return out


def positional_args(spec):
    out = []
    for p in spec["positionals"]:
        if p["nargs"] is None:
            out += POSITIONAL_VALUES[p["name"]]
    return out


def unique_prefix(name, names):
    """The shortest abbreviation of `name` that no other option of the parser starts with."""
    for n in range(3, len(name)):
        p = name[:n]
        if [x for x in names if x.startswith(p)] == [name]:
            return p
    return None


def ambiguous_prefixes(names):
    out = set()
    for name in names:
        if not name.startswith("--"):
            continue
        for n in range(len(name) - 1, 2, -1):
            p = name[:n]
            if p not in names and len([x for x in names if x.startswith(p)]) > 1:
                out.add(p)
                break
    return sorted(out)


def rows_for(cmd, spec):
    """(argv, what it pins down) for one subcommand."""
    names = [o["name"] for o in spec["options"]] + ["--help", "-h"]
    pos = positional_args(spec)
    rows = []
    free_text_done = prefix_eq_done = False
    for o in spec["options"]:
        n = o["name"]
        base = [cmd] + base_args(cmd, spec, without=n) + pos
        if o["flag"]:
            rows += [
                (base + [n], "store_true flag"),
                (base + [n, n], "a repeated flag is fine"),
                (base + [n + "=x"], "a flag with '=value': 'ignored explicit argument'"),
                (base + [n + "="], "a flag with '=' and nothing: still an explicit argument"),
            ]
        else:
            v1, v2 = value_for(cmd, o), value_for(cmd, o, second=True)
            rows += [
                (base + [n + "=" + v1], "--opt=value"),
                (base + [n, v1], "--opt value"),
                (base + [n, v2, n, v1], "repeated: the last occurrence wins, no error"),
                (base + [n + "="] if o["nargs"] != "?" else base + [n + "=" + v1, n],
                 "empty value --opt= (a value like any other) / nargs='?' repeated bare"),
                (base + [n], "value missing at the end: 'expected one argument' unless nargs='?'"),
                (base + [n, "-x"], "a value starting with '-' is taken for an option"),
            ]
            if not o["choices"] and not o["int"] and n != "--primary-handle" and not free_text_done:
                free_text_done = True
                rows += [
                    (base + [n, "-1"], "a negative number is a value (no option looks like one)"),
                    (base + [n + "=-x"], "--opt=-x: '=' takes any value"),
                    (base + [n, "-x y"], "a value with a space is never an option"),
                    (base + [n, "--"], "'--' is not a value"),
                ]
        p = unique_prefix(n, names)
        if p:
            tail = [] if o["flag"] else [value_for(cmd, o)]
            rows.append((base + [p] + tail, f"unique prefix {p} of {n}"))
            if not o["flag"] and not prefix_eq_done:
                prefix_eq_done = True
                rows.append((base + [p + "=" + tail[0]], f"unique prefix with '=': {p}="))
    full = [cmd] + base_args(cmd, spec) + pos
    for p in ambiguous_prefixes(names):
        rows.append((full + [p, "v1"], f"ambiguous prefix {p}: usage error"))
    optional = [o for o in spec["options"] if not o["required"] and o["nargs"] is None
                and not o["flag"] and o["name"] != "--path"]
    if optional:
        o = optional[0]
        rows.append(([cmd] + base_args(cmd, spec) + ["--", o["name"], value_for(cmd, o)] + pos,
                     "after '--' an option is an argument"))
    rows += [
        (full, "every required option given"),
        ([cmd, "--help"], "help"),
        ([cmd, "-h"], "short help"),
        ([cmd, "--help=x"], "help takes no value"),
        (full + ["--bogus"], "an unknown option"),
        (full + ["extra"], "an extra positional argument"),
    ]
    if pos:
        rows.append(([cmd] + pos + base_args(cmd, spec), "the positional before the options"))
        rows.append(([cmd] + base_args(cmd, spec) + ["--"] + pos, "the positional after '--'"))
    if not spec["positionals"]:
        rows.append((full + ["--", "x"], "'--' then an argument nobody takes"))
    return rows


TOP_ROWS = [
    ([], "no command: usage, status 0"),
    (["--help"], "help"),
    (["--he"], "a prefix of --help"),
    (["-h"], "short help"),
    (["adkey"], "an unknown command"),
    (["ini"], "no prefix matching of commands"),
    (["--", "init"], "'--' before the command"),
    (["init", "--path"], "--path needs a value"),
]


@pytest.fixture(scope="module")
def spec():
    return upstream_parser("describe")


@pytest.fixture(scope="module")
def verdicts(spec):
    rows = list(TOP_ROWS)
    for cmd, s in spec.items():
        rows += rows_for(cmd, s)
    upstream = upstream_parser([argv for argv, _ in rows])
    return rows, upstream


def status_class(code):
    return "ok" if code == 0 else "usage" if code == 2 else "other"


def run_ours_rows(rows, tmp):
    requires_file(PTOOL_BIN, "tpm2-ptool binary")
    env = base_env()
    env.update({"HOME": str(tmp), "TPM2_PKCS11_STORE": str(tmp / "no-store"),
                "TPM2_PKCS11_TCTI": "mssim:host=127.0.0.1,port=9"})

    def one(argv):
        p = subprocess.run([PTOOL_BIN, *argv], env=env, capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, cwd=tmp, timeout=60)
        return p.returncode, p.stderr

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, [argv for argv, _ in rows]))


def test_every_row_same_verdict_as_upstream(verdicts, tmp_path):
    rows, upstream = verdicts
    ours = run_ours_rows(rows, tmp_path)
    bad = []
    for (argv, what), up, (code, err) in zip(rows, upstream, ours):
        # Upstream: 2 = argparse refused; anything else = it parsed (0 here, 1 from a type
        # converter that exits). Ours: 2 = refused; else it parsed and failed later.
        up_usage = up["status"] == 2
        our_usage = code == 2
        if tuple(argv) in INTENTIONAL:
            assert up_usage != our_usage or up["status"] != 0, f"not a difference any more: {argv}"
            continue
        if argv in ([], ["--help"], ["--he"], ["-h"]) or argv[-1:] in (["--help"], ["-h"]):
            our_usage = code != 0  # help and no command succeed
            up_usage = up["status"] != 0
        if up_usage != our_usage:
            bad.append(f"{argv} ({what}): upstream {up['status']} "
                       f"{up['stderr'].strip().splitlines()[-1:]} ours {code} {err.strip()!r}")
    assert not bad, f"{len(bad)} of {len(rows)} rows differ:\n" + "\n".join(bad)
    assert len(rows) > 400


def test_harness_agrees_with_the_real_upstream_tool(tmp_path):
    """The in-process parser is upstream's: the real tool gives the same status."""
    env = base_env()
    env.update({"HOME": str(tmp_path), "TPM2_PKCS11_STORE": str(tmp_path)})
    vectors = [["addcert", "--label", "t", "--key", "x", "c.pem"],
               ["addkey", "--label", "t", "--algorithm", "ecc256", "--attr-always-authenticate=x"],
               ["listtokens", "--pid", "0x1"]]
    harness = upstream_parser(vectors)
    for argv, h in zip(vectors, harness):
        real = run_upstream(argv, env, check=False)
        assert (real.returncode, h["status"]) == (2, 2), argv


# --------------------------------------------------------------------------
# Effects on a real store: the last occurrence wins, prefixes mean their option
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tpm_store(swtpm_module, tmp_path_factory):
    store = tmp_path_factory.mktemp("args") / "store"
    store.mkdir(mode=0o700)
    return ptool_env(swtpm_module, store), store


def test_last_primary_auth_wins(tpm_store):
    env, store = tpm_store
    # The example: the auth given twice to an existing persistent primary.
    run_ptool(["init", "--primary-auth", "foopass"], env)
    run_ptool(["init", "--primary-auth=anotherpobjpin", "--primary-handle=0x81000001",
               "--primary-auth=foopass"], env)
    # A token under the adopted primary needs its right auth (the TPM checks it).
    run_ptool(["addtoken", "--pid", "2", "--label", "adopted", "--sopin", "so",
               "--userpin", "u"], env)
    bad = run_ptool(["init", "--primary-auth=foopass", "--primary-handle", "0x81000001",
                     "--primary-a", "wrong"], env)
    r = run_ptool(["addtoken", "--pid", "3", "--label", "wrongauth", "--sopin", "so",
                   "--userpin", "u"], env, check=False)
    assert bad.returncode == 0 and r.returncode == 3, r.stderr


def test_last_and_abbreviated_options_on_a_token(tpm_store):
    env, store = tpm_store
    run_ptool(["addtoken", "--pid=1", "--label", "first", "--lab=tok", "--sopin", "x",
               "--so", "so", "--user=bad", "--userpin", "u"], env)
    listed = yaml.safe_load(run_ptool(["listtokens", "--pid", "1"], env).stdout)
    assert [t["label"] for t in listed] == ["tok"]
    run_ptool(["verify", "--label", "tok", "--user=u", "--so=so"], env)
    out = yaml.safe_load(run_ptool(
        ["addkey", "--lab", "tok", "--alg", "rsa2048", "--alg=ecc256", "--user", "u",
         "--key-l", "k1", "--key-label=k2", "--attr-always-authenticate",
         "--attr-always-authenticate"], env).stdout)
    objs = yaml.safe_load(run_ptool(["listobjects", "--label", "tok"], env).stdout)
    assert [o["CKA_LABEL"] for o in objs] == ["k2", "k2"]
    assert out and store_query(store, "select count(*) from tobjects")[0][0] == 2
    # changepin --user: the last one (user) is the PIN changed.
    run_ptool(["changepin", "--label", "tok", "--user", "so", "--user=user", "--old", "u",
               "--new", "u2"], env)
    run_ptool(["verify", "--label", "tok", "--userpin", "u2"], env)
