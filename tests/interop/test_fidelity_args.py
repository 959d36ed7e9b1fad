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
    ("--path", "x", "init"):
        "our global --path may also come before the command (upstream has it per command)",
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
    if opt["int"] or (cmd == "objmod" and name == "--id"):
        return "2" if second else "1"
    if name == "--primary-handle":
        return "0x81000002" if second else "0x81000001"
    if name == "--key-id":
        return "02" if second else "01"
    if cmd == "objmod" and name == "--key":
        return "CKA_ID" if second else "CKA_LABEL"
    if cmd == "config" and name == "--key":
        return "tcti" if second else "token-init"
    return "v2" if second else "v1"


# What the command needs beyond its required options to get past its own checks to the
# store (which does not exist): upstream needs the same at run time.
def context(cmd, tested):
    if cmd == "export":
        return {"--label": ["--key-label", "k"], "--key-label": ["--label", "t"],
                "--id": []}.get(tested, ["--id", "1"])
    if cmd == "addcert" and tested not in ("--key-label", "--key-id"):
        return ["--key-label", "k"]
    if cmd == "destroy" and tested != "--pid":
        return ["--pid", "1"]
    if cmd in ("config", "objmod") and tested == "--value":
        return ["--key", "CKA_LABEL" if cmd == "objmod" else "tcti", "--type", "str"][
            : 4 if cmd == "objmod" else 2]
    return []


# Options of ours the rows need that upstream lacks (inserted after the command, ours only).
OURS_ONLY = {"destroy": ["--yes"]}

# Rows upstream parses that we refuse for a value, after parsing (not a parser rule):
# (command, an argument of the row, why).
SEMANTIC = [
    ("addtoken", "--label=", "an empty token label (PKCS#11 needs one)"),
    ("addkey", "--id=", "an empty CKA_ID"),
    ("import", "--id=", "an empty CKA_ID"),
    ("link", "--id=", "an empty CKA_ID"),
    ("addcert", "--key-id=", "an empty CKA_ID"),
    ("import", "--privkey=", "no key file named"),
    ("objmod", "--id=", "object ids are numbers"),
    ("objdel", ("--", "--id"), "object ids are numbers"),
    ("objmod", "--key=", "no such attribute"),
    ("objmod", "extra", "the attribute file does not exist (read before the store)"),
    ("objmod", "a.yaml", "the attribute file does not exist (read before the store)"),
    ("objmod", ("--", "--key"), "the attribute file does not exist (read before the store)"),
]


def semantic(argv):
    def has(arg):
        seq = list(arg) if isinstance(arg, tuple) else [arg]
        return any(argv[i:i + len(seq)] == seq for i in range(1, len(argv)))
    return any(argv[:1] == [c] and has(arg) for c, arg, _ in SEMANTIC)


POSITIONAL_VALUES = {"cert": ["c.pem"], "attrs": ["a.yaml"], "id": ["7"], "privkey": ["k.pem"]}


def base_args(cmd, spec, without=None):
    out = []
    for o in spec["options"]:
        if o["required"] and o["name"] != without:
            out += [o["name"], value_for(cmd, o)]
    return out + context(cmd, without)


def positional_args(spec):
    out = []
    for p in spec["positionals"]:
        if p["nargs"] in (None, "*"):
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
            if (not o["choices"] and not o["int"] and n not in ("--primary-handle", "--id", "--key")
                    and not free_text_done):
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
    if any(p["nargs"] == "*" for p in spec["positionals"]):
        rows.append(([cmd] + base_args(cmd, spec), "nargs='*' takes no argument too"))
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
    (["--path", "x", "init"], "ours: --path before the command (upstream: unrecognized)"),
]
PIN = ["--sopin", "s", "--userpin", "u"]
EXTRA_ROWS = [
    (["init", "--primary-handle", "--transient-parent"], "see INTENTIONAL"),
    (["init", "--primary-handle="], "see INTENTIONAL"),
    (["init", "--hierarchy-auth=", "--owner-auth=x"],
     "two names in a mutually exclusive group: '' is the default, so no conflict"),
    (["init", "--hierarchy-auth=a", "--owner-auth=x"], "... and a real value conflicts"),
    (["init", "--owner-auth=a", "--owner-auth=x"], "the same name twice is no conflict"),
    (["init", "--primary-handle", "0x81000002", "--primary-handle"],
     "nargs='?' repeated: the last, bare, wins"),
    (["init", "--transient-parent", "--primary-auth", "x"], "nargs='?' before an option"),
    (["addkey", "-hx"], "-h with an attached argument"),
    (["addkey", "--label", "t", "--algorithm", "ecc256", "--sopin", "a", "--userpin", "b"],
     "mutually exclusive --sopin / --userpin"),
    (["addkey", "--label", "t", "--algorithm", "ecc256", "--userpin", "a", "--userpin", "b"],
     "one of a mutually exclusive group twice"),
    (["addtoken", "--pid", "010", "--label", "a"] + PIN, "type=int: leading zeros are decimal"),
    (["addtoken", "--pid", " 1_0 ", "--label", "a"] + PIN, "type=int: blanks, underscores"),
    (["addtoken", "--pid", "0x1", "--label", "a"] + PIN, "type=int: no hex"),
    (["addtoken", "--pid", "+1", "--label", "a"] + PIN, "type=int: a sign"),
    (["addtoken", "--pid", "1__0", "--label", "a"] + PIN, "type=int: one underscore at a time"),
    (["link", "k1", "--label", "x", "k2"], "nargs='*' is consumed once: k2 is left over"),
    (["link", "--label", "x", "--", "-k1", "k2"], "after '--' anything is a key file"),
    (["objdel", "--", "--id"], "after '--' an option name is the positional"),
    (["objdel", "-5"], "a negative number is a positional"),
    (["objdel", "-x"], "anything else with '-' is an option"),
    (["objmod", "--id", "1", "--", "--key"], "nargs='?' positional after '--'"),
    (["objmod", "a.yaml", "--id", "1"], "the positional first"),
    (["export", "--output", "x", "--id", "1"], "--output: unique prefix of --output-prefix"),
    (["export", "--id", "1", "--o=x"], "--o=: a prefix with '='"),
    (["listprimaries", "--path", "-"], "'-' alone is a value"),
    (["listtokens", "--pid", "1", "--pid"], "the last occurrence lacks its value"),
    (["changepin", "--user", "so", "--user=user", "--label", "l", "--new", "n"],
     "choices checked per occurrence, last wins"),
    (["changepin", "--user", "bad", "--user=user", "--label", "l", "--new", "n"],
     "an invalid choice is an error even if a later one is valid"),
    (["verify", "--label", "t", "--sop", "s", "--userp", "u"], "two prefixes"),
]


@pytest.fixture(scope="module")
def spec():
    return upstream_parser("describe")


@pytest.fixture(scope="module")
def verdicts(spec):
    rows = list(TOP_ROWS) + EXTRA_ROWS
    for cmd, s in spec.items():
        rows += rows_for(cmd, s)
    upstream = upstream_parser([argv for argv, _ in rows])
    return rows, upstream


def status_class(code):
    return "ok" if code == 0 else "usage" if code == 2 else "other"


def run_ours_rows(rows, tmp):
    requires_file(PTOOL_BIN, "tpm2-ptool binary")
    # addcert reads its certificate before the store: a real one.
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tmp / "c.key"),
                    "-out", str(tmp / "c.pem"), "-subj", "/CN=t", "-days", "1"],
                   check=True, capture_output=True)
    env = base_env()
    env.update({"HOME": str(tmp), "TPM2_PKCS11_STORE": str(tmp / "no-store"),
                "TPM2_PKCS11_TCTI": "mssim:host=127.0.0.1,port=9"})

    def one(argv):
        argv = argv[:1] + OURS_ONLY.get(argv[0], []) + argv[1:] if argv else argv
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
        if our_usage and not up_usage and semantic(argv):
            continue
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
