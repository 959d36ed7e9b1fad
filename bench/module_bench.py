#!/usr/bin/python3
"""Both PKCS#11 modules on the same stores: C_Initialize + find at scale, sign/s, keygen, AES.

    bench/module_bench.py --module build/pkcs11/tpm2-ptool-pkcs11.so \\
        --ptool build/cli/tpm2-ptool [--keys 10000] [--runs 5] [--write docs/benchmarks.md]

A private swtpm; a store made by our tpm2-ptool (init, addtoken, keys ecc256 "k1", rsa2048
"k2", aes128 "k3"), which upstream's module reads as well. The scale store is a copy whose
token holds N copies of k1's private and public rows (distinct CKA_ID / CKA_LABEL), made
with SQLite in well under a second instead of N TPM calls; all N share one TPM blob pair.
Each measurement runs bench/p11bench.c (compiled here) against our module and upstream's
libtpm2_pkcs11.so alternately, each on its own fresh copy of the store, and takes medians.
Keygen and AES columns say "not supported" for a module that answers
CKR_FUNCTION_NOT_SUPPORTED / CKR_MECHANISM_INVALID. With --write, the table replaces the
"module-bench" block of docs/benchmarks.md (bench/report.py keeps that block).
Not a test: speed is never asserted in CI.
"""

import argparse
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from harness import CommandFailed, fresh_copy, run_measured  # noqa: E402
from ptool_fixtures import UPSTREAM_MODULE, Swtpm, ptool_env  # noqa: E402

PIN = "user"
BEGIN, END = "<!-- module-bench begin -->", "<!-- module-bench end -->"


def make_store(ptool, swtpm, work):
    store = work / "base"
    store.mkdir(mode=0o700)
    env = ptool_env(swtpm, store, home=work / "home")
    for args in (["init"],
                 ["addtoken", "--pid", "1", "--label", "tok", "--sopin", "so", "--userpin", PIN],
                 ["addkey", "--label", "tok", "--algorithm", "ecc256", "--key-label", "k1",
                  "--userpin", PIN],
                 ["addkey", "--label", "tok", "--algorithm", "rsa2048", "--key-label", "k2",
                  "--userpin", PIN],
                 ["addkey", "--label", "tok", "--algorithm", "aes128", "--key-label", "k3",
                  "--userpin", PIN]):
        run_measured([ptool, *args], env)
    return store


def _set_attr(text, attr, hex_value):
    """Replaces the !!str value of attribute `attr` in either layout (PyYAML's canonical flow
    map or our block map)."""
    pattern = re.compile(r'(!!int "%d"\s*:\s*!!str ")[0-9a-fA-F]*(")' % attr)
    new, n = pattern.subn(lambda m: m.group(1) + hex_value + m.group(2), text, count=1)
    assert n == 1, f"attribute {attr} not found"
    return new


def scale_store(base, work, n):
    store = fresh_copy(base, work, f"scale{n}")
    db = sqlite3.connect(store / "tpm2_pkcs11.sqlite3")
    rows = [r for r in db.execute("SELECT tokid, attrs FROM tobjects ORDER BY id").fetchall()
            if '"k1"' in r[1] or "6b31" in r[1]][:2]  # k1's private and public rows
    db.execute("DELETE FROM tobjects")
    inserts = []
    for i in range(n):
        for tokid, attrs in rows:
            attrs = _set_attr(attrs, 0x102, f"{i:032x}".encode().hex())
            attrs = _set_attr(attrs, 3, f"k{i}".encode().hex())
            inserts.append((tokid, attrs))
    db.executemany("INSERT INTO tobjects (tokid, attrs) VALUES (?, ?)", inserts)
    db.commit()
    db.close()
    return store


def p11bench(work):
    exe = work / "p11bench"
    subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-I/usr/include/p11-kit-1",
                    "-o", exe, REPO / "bench" / "p11bench.c", "-ldl"], check=True)
    return exe


def run(exe, module, store, swtpm, work, *args):
    env = ptool_env(swtpm, store, home=work / "home")
    env["TPM2_PKCS11_TCTI"] = swtpm.tcti
    _, cpu, out = run_measured([exe, module, *args], env)
    values = {k: float(int(v, 16) if v.startswith("0x") else v)
              for k, v in (line.split() for line in out.splitlines())}
    values["cpu_ms"] = cpu * 1e3
    return values


def measure(exe, mods, base, swtpm, work, args, runs, fresh):
    """{module: [values...]}, alternating who goes first; `fresh`: a new store copy per run."""
    res = {m: [] for m in mods}
    for r in range(runs):
        for m in (list(mods) if r % 2 == 0 else list(mods)[::-1]):
            store = fresh_copy(base, work, "run") if fresh else base
            try:
                res[m].append(run(exe, mods[m], store, swtpm, work, *args))
            except CommandFailed as exc:
                res[m].append({"error": str(exc).splitlines()[0][:200]})
    return res


def med(samples, key):
    vals = [s[key] for s in samples if key in s]
    return statistics.median(vals) if vals else None


def cell(samples, key, fmt):
    if any(s.get("unsupported") for s in samples):
        return "not supported"
    v = med(samples, key)
    if v is None:
        errs = [s["error"] for s in samples if "error" in s]
        if errs:
            print(f"[module_bench] {key}: {errs[0]}", file=sys.stderr)
        return "failed (p11bench exited non-zero; the script prints why)"
    return fmt.format(v)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--module", required=True)
    p.add_argument("--ptool", required=True)
    p.add_argument("--keys", type=int, default=10000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--signs", type=int, default=200)
    p.add_argument("--write", help="docs/benchmarks.md to update")
    a = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ptool-modbench-", dir="/tmp"))
    swtpm = Swtpm()
    try:
        exe = p11bench(work)
        mods = {"ours": str(Path(a.module).resolve()), "upstream": UPSTREAM_MODULE}
        base = make_store(str(Path(a.ptool).resolve()), swtpm, work)
        scale = scale_store(base, work, a.keys)
        res = {
            "find_small": measure(exe, mods, base, swtpm, work, ["find"], a.runs, False),
            "find_scale": measure(exe, mods, scale, swtpm, work, ["find"], a.runs, False),
            "sign_ec": measure(exe, mods, base, swtpm, work,
                               ["sign", "ec", str(a.signs), PIN], 2, False),
            "sign_rsa": measure(exe, mods, base, swtpm, work,
                                ["sign", "rsa", str(a.signs // 2), PIN], 2, False),
            "keygen_ec": measure(exe, mods, base, swtpm, work, ["keygen", "ec", "5", PIN], 2,
                                 True),
            "keygen_rsa": measure(exe, mods, base, swtpm, work, ["keygen", "rsa", "2", PIN], 2,
                                  True),
            "aes": measure(exe, mods, base, swtpm, work, ["aes", "20", PIN], 2, False),
        }
    finally:
        swtpm.stop()

    lines = [
        BEGIN,
        f"`bench/module_bench.py --keys {a.keys} --runs {a.runs}` on "
        f"{platform.node() and 'this machine'} ({os.cpu_count()} CPUs, load "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}): both modules on the same stores "
        "(made by our tpm2-ptool), swtpm TCTI, medians. *init + find* = C_Initialize + "
        "C_GetSlotList + C_OpenSession + C_FindObjects of everything (no login), wall ms "
        "(CPU ms of the whole process in brackets).",
        "",
        f"| module | init + find, 5 objects | init + find, {a.keys} keys ({2 * a.keys} objects) "
        "| ECDSA P-256 sign/s | RSA-2048 sign/s | keygen P-256 ms/key | keygen RSA-2048 ms/key "
        "| AES-128-CBC MiB/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in ("ours", "upstream"):
        fs, fl = res["find_small"][m], res["find_scale"][m]
        lines.append(
            f"| {m} | {cell(fs, 'init_find_ms', '{:.1f}')} ({cell(fs, 'cpu_ms', '{:.0f}')}) "
            f"| {cell(fl, 'init_find_ms', '{:.1f}')} ({cell(fl, 'cpu_ms', '{:.0f}')}) "
            f"| {cell(res['sign_ec'][m], 'sigs_per_s', '{:.0f}')} "
            f"| {cell(res['sign_rsa'][m], 'sigs_per_s', '{:.0f}')} "
            f"| {cell(res['keygen_ec'][m], 'ms_per_key', '{:.0f}')} "
            f"| {cell(res['keygen_rsa'][m], 'ms_per_key', '{:.0f}')} "
            f"| {cell(res['aes'][m], 'mib_per_s', '{:.2f}')} |")
    objects = {m: med(res["find_scale"][m], "objects") for m in mods}
    lines += ["", f"Objects found at scale: ours {objects['ours']}, upstream "
              f"{objects['upstream']}.", END]
    table = "\n".join(lines)
    print(table)
    if a.write:
        doc = Path(a.write)
        text = doc.read_text()
        if BEGIN in text:
            start, end = text.index(BEGIN), text.index(END) + len(END)
            text = text[:start] + table + text[end:]
        else:
            text = text.rstrip("\n") + "\n\n## Both modules on one store\n\n" + table + "\n"
        doc.write_text(text)


if __name__ == "__main__":
    main()
