#!/usr/bin/python3
"""Side-by-side benchmark of our tpm2-ptool / PKCS#11 module against upstream tpm2-pkcs11.

Run through scripts/bench. Writes <out>/results.json; bench/report.py turns it into
docs/benchmarks.md and the PNG plots. See docs/benchmarks.md for what is measured and how.
"""

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

import harness  # noqa: E402
import tpm_latency  # noqa: E402
from harness import CommandFailed, fresh_copy, run_measured, summary  # noqa: E402
from ptool_fixtures import (UPSTREAM_MODULE, UPSTREAM_PTOOL, Abrmd, Swtpm, base_env,  # noqa: E402
                            ptool_env, tpm_handles)

USER_PIN = "user"
SO_PIN = "so"
TOKEN = "tok"

# name, store the command starts from, (ours args, upstream args); {out} = a fresh file prefix.
COMMANDS = [
    ("init", "empty", ["init"], ["init"]),
    ("addtoken", "primary",
     ["addtoken", "--pid", "1", "--label", TOKEN, "--sopin", SO_PIN, "--userpin", USER_PIN], None),
    ("addkey ecc256", "token",
     ["addkey", "--label", TOKEN, "--algorithm", "ecc256", "--key-label", "kx",
      "--userpin", USER_PIN], None),
    ("addkey rsa2048", "token",
     ["addkey", "--label", TOKEN, "--algorithm", "rsa2048", "--key-label", "kx",
      "--userpin", USER_PIN], None),
    ("listtokens", "full-ro", ["listtokens", "--pid", "1"], None),
    ("listobjects", "full-ro", ["listobjects", "--label", TOKEN], None),
    ("ssh-pubkey", "full-ro", ["ssh-pubkey", "--label", TOKEN], "ssh-keygen"),
    ("export", "full",
     ["export", "--label", TOKEN, "--key-label", "k1", "--userpin", USER_PIN,
      "--output-prefix", "{out}"], None),
]
VARIANTS = ("ours", "upstream", "ours-abrmd")

# The laptop-TPM latency model (--only model): every command whose TPM traffic it prices.
# name, start store, ours args, upstream args (None: the same). {out} = a fresh file prefix,
# {key} = a software P-256 key (PEM), {tss} = a TSS2 PEM key under the primary with auth
# {auth}. "addkey ecc256 (2nd)" adds a second key of a type the token already has.
MODEL_COMMANDS = [
    ("init", "empty", ["init"], None),
    ("addtoken", "primary", COMMANDS[1][2], None),
    ("addtoken (2nd token)", "token",
     ["addtoken", "--pid", "1", "--label", "tok2", "--sopin", SO_PIN, "--userpin", USER_PIN],
     None),
    ("addkey ecc256", "token", COMMANDS[2][2], None),
    ("addkey rsa2048", "token", COMMANDS[3][2], None),
    ("addkey ecc256 (2nd)", "full", COMMANDS[2][2], None),
    ("import ecc", "full",
     ["import", "--label", TOKEN, "--privkey", "{key}", "--algorithm", "ecc", "--key-label",
      "imp", "--userpin", USER_PIN], None),
    ("link", "full",
     ["link", "--label", TOKEN, "--key-label", "lnk", "--userpin", USER_PIN, "--auth", "{auth}",
      "{tss}"], None),
    ("export", "full", COMMANDS[7][2], None),
    ("changepin", "full",
     ["changepin", "--label", TOKEN, "--user", "user", "--old", USER_PIN, "--new", "user2"],
     None),
    ("initpin", "full", ["initpin", "--label", TOKEN, "--sopin", SO_PIN, "--userpin", "user2"],
     None),
    ("verify", "full", ["verify", "--label", TOKEN, "--userpin", USER_PIN], None),
    ("listobjects", "full-ro", ["listobjects", "--label", TOKEN], None),
]
MODEL_VARIANTS = ("ours", "ours-abrmd", "upstream")


class Bench:
    def __init__(self, args):
        self.args = args
        self.ptool = Path(args.ptool)
        self.module = Path(args.module)
        self.work = Path(tempfile.mkdtemp(prefix="ptool-bench-", dir="/tmp"))
        self.notes = []
        self.results = {"commands": {}, "counts": {}, "module": {}, "scale": {}, "notes": self.notes}
        self.swtpm = Swtpm()
        self.abrmd = Abrmd(self.swtpm)
        # A second abrmd whose TCTI records every TPM command it sends to swtpm.
        self.abrmd_pcap_file = self.work / "abrmd.pcap"
        self.abrmd_pcap = self._pcap_abrmd()
        self.bases = {}
        self.keep_handles = set()
        self.rss_done = {}

    def _pcap_abrmd(self):
        class PcapSwtpm:  # what Abrmd reads from its swtpm: .port and .tcti
            port = self.swtpm.port + 10000
            tcti = "pcap:" + self.swtpm.tcti
        old = os.environ.get("TCTI_PCAP_FILE")
        os.environ["TCTI_PCAP_FILE"] = str(self.abrmd_pcap_file)
        try:
            return Abrmd(PcapSwtpm())
        finally:
            if old is None:
                del os.environ["TCTI_PCAP_FILE"]
            else:
                os.environ["TCTI_PCAP_FILE"] = old

    def stop(self):
        for daemon in (self.abrmd_pcap, self.abrmd):
            daemon.stop()
        self.swtpm.stop()

    # ---------------------------------------------------------------- helpers

    def tool(self, variant):
        return [str(self.ptool)] if variant.startswith("ours") else [UPSTREAM_PTOOL]

    def backend(self, variant, counting=False):
        if variant == "ours":
            return ("pcap:" + self.swtpm.tcti) if counting else self.swtpm
        return self.abrmd_pcap if counting else self.abrmd

    def env(self, variant, store, counting=False, pcap_file=None):
        env = ptool_env(self.backend(variant, counting), store, home=self.work / "home")
        if counting and variant == "ours":
            env["TCTI_PCAP_FILE"] = str(pcap_file)
        return env

    def ours_has(self, command):
        """Whether our --help lists the subcommand (others are still being written)."""
        if not hasattr(self, "_ours_help"):
            self._ours_help = subprocess.run([str(self.ptool), "--help"], capture_output=True,
                                             text=True).stdout.split()
        return command.split()[0] in self._ours_help

    def evict_new_persistent(self):
        for handle in tpm_handles(self.swtpm.tcti, "persistent"):
            if handle not in self.keep_handles:
                subprocess.run(["tpm2_evictcontrol", "-T", self.swtpm.tcti, "-C", "o",
                                "-c", hex(handle)], env=base_env(), capture_output=True, check=True)

    def make_bases(self):
        """Per tool: stores after init, after addtoken, and with keys k1 (ecc256), k2 (rsa2048)."""
        for tool_variant, variant in (("upstream", "upstream"), ("ours", "ours")):
            stages = {}
            store = self.work / f"base-{tool_variant}"
            store.mkdir(mode=0o700)
            env = self.env(variant, store)
            tool = self.tool(variant)
            run_measured([*tool, "init"], env)
            stages["primary"] = fresh_copy(store, self.work, f"base-{tool_variant}-primary")
            run_measured([*tool, *COMMANDS[1][2]], env)
            stages["token"] = fresh_copy(store, self.work, f"base-{tool_variant}-token")
            for alg, label in (("ecc256", "k1"), ("rsa2048", "k2")):
                run_measured([*tool, "addkey", "--label", TOKEN, "--algorithm", alg,
                              "--key-label", label, "--userpin", USER_PIN], env)
            stages["full"] = store
            self.bases[tool_variant] = stages
        self.keep_handles = set(tpm_handles(self.swtpm.tcti, "persistent"))

    def prepare(self, variant, start):
        """(store dir, output prefix) for one run starting from store kind ``start``."""
        base = self.bases["ours" if variant.startswith("ours") else "upstream"]
        if start == "empty":
            store = Path(tempfile.mkdtemp(prefix="empty-", dir=self.work))
        elif start == "full-ro":
            store = base["full"]
        else:
            store = fresh_copy(base["full" if start == "full" else start], self.work, start)
        out = Path(tempfile.mkdtemp(prefix="out-", dir=self.work)) / "key"
        return store, out

    def argv(self, variant, spec):
        _, _, ours_args, upstream_args = spec
        if variant == "upstream" and upstream_args == "ssh-keygen":
            return ["ssh-keygen", "-D", UPSTREAM_MODULE]
        args = ours_args if variant.startswith("ours") else (upstream_args or ours_args)
        return [*self.tool(variant), *args]

    # ---------------------------------------------------------------- CLI

    def one_run(self, variant, spec, counting=False, rss=False):
        """Seconds; with ``rss`` peak RSS KiB (/usr/bin/time -v); with ``counting`` TPM stats."""
        store, out = self.prepare(variant, spec[1])
        pcap = self.work / f"run-{time.monotonic_ns()}.pcap"
        env = self.env(variant, store, counting, pcap)
        args = [a.replace("{out}", str(out)) for a in self.argv(variant, spec)]
        before = harness.pcap_events(self.abrmd_pcap_file) if counting else []
        try:
            if rss:
                return harness.time_v_rss(args, env)
            elapsed, cpu, _ = run_measured(args, env)
        finally:
            if spec[0] == "init":
                self.evict_new_persistent()
        if not counting:
            return elapsed, cpu
        if variant == "ours":
            events = harness.pcap_events(pcap)
            cross = harness.run_pcount(pcap)
        else:
            time.sleep(0.3)  # abrmd flushes the client's objects after it disconnects
            events = harness.pcap_events(self.abrmd_pcap_file)[len(before):]
            cross = None
        hist = {}
        for _, is_cmd, code in events:
            if is_cmd:
                hist[hex(code)] = hist.get(hex(code), 0) + 1
        return {"commands": harness.count_commands(events), "pcapcount": cross,
                "tpm_seconds": harness.tpm_busy_seconds(events), "by_code": hist}

    def bench_cli(self):
        runs = self.args.runs
        for spec in COMMANDS:
            name = spec[0]
            if not self.ours_has(name):
                self.notes.append(f"'{name}': our tpm2-ptool has no such subcommand yet; skipped")
                continue
            n = self.args.rsa_runs if "rsa" in name else runs
            samples = {v: {"time": [], "cpu": [], "rss": []} for v in VARIANTS}
            for r in range(n):
                order = VARIANTS[r % 3:] + VARIANTS[:r % 3]  # alternate who goes first
                for variant in order:
                    try:
                        elapsed, cpu = self.one_run(variant, spec)
                        samples[variant]["time"].append(elapsed)
                        samples[variant]["cpu"].append(cpu)
                        if r < self.args.rss_runs:
                            samples[variant]["rss"].append(self.one_run(variant, spec, rss=True))
                    except CommandFailed as exc:
                        self.notes.append(f"'{name}' {variant} failed: {str(exc)[:400]}")
            self.results["commands"][name] = {
                v: {"time": summary(s["time"]), "cpu": summary(s["cpu"]),
                    "rss_kib": summary(s["rss"])}
                for v, s in samples.items()}
            counts = {}
            for variant in VARIANTS:
                try:
                    counts[variant] = self.one_run(variant, spec, counting=True)
                except CommandFailed as exc:
                    self.notes.append(f"'{name}' {variant} (pcap run) failed: {str(exc)[:400]}")
            self.results["counts"][name] = counts
            self.log(name, self.results["commands"][name], counts)

    def log(self, name, res, counts):
        parts = []
        for v in VARIANTS:
            t = res[v]["time"]
            if t and res[v]["rss_kib"]:
                parts.append(f"{v} {t['median'] * 1e3:.1f} ms/{res[v]['rss_kib']['median']} KiB"
                             f"/{counts.get(v, {}).get('commands')} cmds")
        print(f"[bench] {name}: " + "; ".join(parts), flush=True)

    # ---------------------------------------------------------------- module

    def p11bench(self):
        exe = self.work / "p11bench"
        subprocess.run(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-I/usr/include/p11-kit-1",
                        "-o", exe, REPO / "bench" / "p11bench.c", "-ldl"], check=True)
        return exe

    def modules(self):
        mods = {"upstream": UPSTREAM_MODULE}
        if self.module.exists():
            mods["ours"] = str(self.module)
        else:
            self.notes.append(f"our PKCS#11 module {self.module} is not built; module numbers "
                              "are upstream only")
        return mods

    def module_run(self, exe, module, store, *args, counting=False):
        env = ptool_env(self.swtpm, store, home=self.work / "home")
        pcap = self.work / f"mod-{time.monotonic_ns()}.pcap"
        if counting:
            env["TPM2_PKCS11_TCTI"] = "pcap:" + self.swtpm.tcti
            env["TCTI_PCAP_FILE"] = str(pcap)
        elapsed, cpu, out = run_measured([exe, module, *args], env)
        values = {k: float(v) for k, v in (line.split() for line in out.splitlines())}
        values["process_s"] = elapsed
        values["process_cpu_s"] = cpu
        if args[0] == "find" and not counting and not self.rss_done.get((module, str(store))):
            self.rss_done[(module, str(store))] = True
            values["rss_kib"] = harness.time_v_rss([exe, module, *args], env)
        if counting:
            values["tpm_commands"] = harness.count_commands(harness.pcap_events(pcap))
        return values

    def bench_module(self):
        exe = self.p11bench()
        mods = self.modules()
        store = self.bases["upstream"]["full"]  # the same upstream-made store for both
        res = {}
        for what, args, n in (("find", ["find"], self.args.runs),
                              ("sign_ec", ["sign", "ec", "500", USER_PIN], 2),
                              ("sign_rsa", ["sign", "rsa", "200", USER_PIN], 2)):
            samples = {m: [] for m in mods}
            for r in range(n):
                for m in (list(mods) if r % 2 == 0 else list(mods)[::-1]):
                    try:
                        samples[m].append(self.module_run(exe, mods[m], store, *args))
                    except CommandFailed as exc:
                        self.notes.append(f"module {what} {m} failed: {str(exc)[:400]}")
            res[what] = {}
            for m, runs in samples.items():
                if not runs:
                    continue
                keys = runs[0].keys()
                res[what][m] = {k: summary([run[k] for run in runs if k in run]) for k in keys}
            for m in mods:
                if what == "find" and samples[m]:
                    res[what][m]["tpm_commands"] = self.module_run(
                        exe, mods[m], store, *args, counting=True)["tpm_commands"]
            print(f"[bench] module {what}: " + "; ".join(
                f"{m} " + ", ".join(f"{k}={v['median']:.2f}" for k, v in d.items()
                                    if isinstance(v, dict))
                for m, d in res[what].items()), flush=True)
        self.results["module"] = res
        return exe, mods

    # ---------------------------------------------------------------- scale

    def scale_store(self, n):
        """Upstream's full store with its token holding n copies of key k1 (one TPM blob pair)."""
        store = fresh_copy(self.bases["upstream"]["full"], self.work, f"scale{n}")
        db = sqlite3.connect(store / "tpm2_pkcs11.sqlite3")
        rows = db.execute("SELECT tokid, attrs FROM tobjects ORDER BY id LIMIT 2").fetchall()
        db.execute("DELETE FROM tobjects")
        inserts = []
        for i in range(n):
            ckid = f"{i:032x}".encode().hex()
            label = f"k{i}".encode().hex()
            for tokid, attrs in rows:
                attrs = _replace_attr(attrs, 258, ckid)
                attrs = _replace_attr(attrs, 3, label)
                inserts.append((tokid, attrs))
        db.executemany("INSERT INTO tobjects (tokid, attrs) VALUES (?, ?)", inserts)
        db.commit()
        db.close()
        return store

    def bench_scale(self, exe, mods):
        sizes = [int(s) for s in self.args.scale.split(",") if s]
        for n in sizes:
            store = self.scale_store(n)
            runs = 5 if n <= 1000 else 3
            res = {}
            cases = [
                ("listobjects", "ours", [str(self.ptool), "listobjects", "--label", TOKEN]),
                ("listobjects", "upstream", [UPSTREAM_PTOOL, "listobjects", "--label", TOKEN]),
                ("ssh-pubkey", "ours", [str(self.ptool), "ssh-pubkey", "--label", TOKEN]),
                ("ssh-pubkey", "upstream", ["ssh-keygen", "-D", UPSTREAM_MODULE]),
                ("addkey ecc256", "ours", [str(self.ptool), *COMMANDS[2][2]]),
                ("addkey ecc256", "upstream", [UPSTREAM_PTOOL, *COMMANDS[2][2]]),
            ]
            for r in range(runs):
                for name, variant, argv in cases:
                    if variant == "ours" and not self.ours_has(name):
                        continue
                    if variant == "upstream" and n > 1000 and r > 0:
                        continue  # upstream takes minutes per run here; one run is enough
                    run_store = fresh_copy(store, self.work, "s") if "addkey" in name else store
                    try:
                        elapsed, cpu, _ = run_measured(argv, self.env(variant, run_store))
                        rss = (harness.time_v_rss(argv, self.env(variant, store))
                               if r == 0 and "addkey" not in name else None)
                    except CommandFailed as exc:
                        self.notes.append(f"scale {n} {name} {variant}: {str(exc)[:300]}")
                        continue
                    d = res.setdefault(name, {}).setdefault(
                        variant, {"time": [], "cpu": [], "rss": []})
                    d["time"].append(elapsed)
                    d["cpu"].append(cpu)
                    if rss is not None:
                        d["rss"].append(rss)
                for m, module in mods.items():
                    if m == "upstream" and n > 1000 and r > 0:
                        continue
                    try:
                        v = self.module_run(exe, module, store, "find")
                    except CommandFailed as exc:
                        self.notes.append(f"scale {n} module {m}: {str(exc)[:300]}")
                        continue
                    d = res.setdefault("module find", {}).setdefault(
                        m, {"time": [], "cpu": [], "rss": []})
                    d["time"].append(v["init_find_ms"] / 1e3)
                    d["cpu"].append(v["process_cpu_s"])
                    if "rss_kib" in v:
                        d["rss"].append(v["rss_kib"])
            self.results["scale"][str(n)] = {
                name: {v: {"time": summary(d["time"]), "cpu": summary(d["cpu"]),
                           "rss_kib": summary(d["rss"])}
                       for v, d in per.items()} for name, per in res.items()}
            print(f"[bench] scale {n}: " + "; ".join(
                f"{name}/{v} {d['time']['median'] * 1e3:.1f} ms"
                for name, per in self.results["scale"][str(n)].items()
                for v, d in per.items()), flush=True)

    # ---------------------------------------------------------------- laptop model

    def sequence(self, variant, args, env_store, cwd=None):
        """Run ``args`` once through a pcap TCTI: {seq: the TPM commands it caused, cpu_s:
        its CPU time (user+sys, with its child processes, e.g. upstream's tpm2-tools)}.

        Ours: the in-process pcap TCTI (what the TPM sees without a resource manager).
        abrmd variants: the pcap TCTI of the abrmd in front of swtpm, so the resource
        manager's ContextSave/ContextLoad/FlushContext around every command are included
        (what the TPM sees behind tpm2-abrmd or the kernel's /dev/tpmrm0).
        """
        pcap = self.work / f"seq-{time.monotonic_ns()}.pcap"
        env = self.env(variant, env_store, counting=True, pcap_file=pcap)
        start = tpm_latency.last_timestamp(self.abrmd_pcap_file)
        _, cpu, _ = run_measured(args, env, cwd=cwd)
        if variant == "ours":
            seq = tpm_latency.read_sequence(pcap)
        else:
            time.sleep(0.3)  # abrmd flushes the client's objects after it disconnects
            seq = [c for c in tpm_latency.read_sequence(self.abrmd_pcap_file) if c["ts"] > start]
        return {"seq": [{k: c[k] for k in ("name", "cls", "rc")} for c in seq], "cpu_s": cpu}

    def model_inputs(self):
        """A software P-256 key to import and a TSS2 PEM key (+ auth) to link, per tool."""
        key = self.work / "import-p256.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-out", key], check=True, capture_output=True)
        links = {}
        for tool_variant in ("ours", "upstream"):
            store = fresh_copy(self.bases[tool_variant]["full"], self.work, "exp")
            out = Path(tempfile.mkdtemp(prefix="tss-", dir=self.work)) / "k"
            _, _, text = run_measured([str(self.ptool), "export", "--label", TOKEN, "--key-label",
                                       "k1", "--userpin", USER_PIN, "--output-prefix", out],
                                      self.env("ours", store))
            auth = yaml.safe_load(text)["object-auth"]
            links[tool_variant] = (f"{out}.pem", auth)
        return key, links

    def bench_model(self):
        key, links = self.model_inputs()
        res = {}
        for name, start, ours_args, upstream_args in MODEL_COMMANDS:
            if not self.ours_has(name):
                continue
            res[name] = {}
            for variant in MODEL_VARIANTS:
                store, out = self.prepare(variant, start)
                tss, auth = links["ours" if variant.startswith("ours") else "upstream"]
                args = ours_args if variant.startswith("ours") else (upstream_args or ours_args)
                args = [a.replace("{out}", str(out)).replace("{key}", str(key))
                        .replace("{tss}", tss).replace("{auth}", auth) for a in args]
                try:
                    seq = self.sequence(variant, [*self.tool(variant), *args], store,
                                        cwd=out.parent)
                except CommandFailed as exc:
                    self.notes.append(f"model '{name}' {variant} failed: {str(exc)[:300]}")
                    continue
                finally:
                    if name == "init":
                        self.evict_new_persistent()
                res[name][variant] = seq
            print(f"[bench] model {name}: " + "; ".join(
                f"{v} {len(q['seq'])} cmds {tpm_latency.model_ms(q['seq']):.0f} ms"
                for v, q in res[name].items()), flush=True)
        res.update(self.model_module())
        self.results["model"] = res

    def model_module(self):
        """C_Initialize, C_Login and the first C_Sign of each module, as sequences.

        p11bench runs: 'find' (C_Initialize .. C_Finalize, no login), 'sign ec 0' (the
        same plus C_Login), 'sign ec|rsa 1' (plus one C_SignInit + C_Sign).
        """
        exe = self.p11bench()
        store = self.bases["upstream"]["full"]  # the same upstream-made store for both
        res = {}
        runs = [("module: C_Initialize", ["find"]),
                ("module: + C_Login", ["sign", "ec", "0", USER_PIN]),
                ("module: + first C_Sign ECDSA", ["sign", "ec", "1", USER_PIN]),
                ("module: + first C_Sign RSA", ["sign", "rsa", "1", USER_PIN])]
        mods = self.modules()
        for name, args in runs:
            res[name] = {}
            for m, module in mods.items():
                for variant in ("ours", "ours-abrmd"):  # direct, and behind a resource manager
                    key = ("ours" if m == "ours" else "upstream") + \
                        ("-abrmd" if variant == "ours-abrmd" else "")
                    try:
                        seq = self.sequence(variant, [exe, module, *args], store)
                    except CommandFailed as exc:
                        self.notes.append(f"model {name} {key} failed: {str(exc)[:300]}")
                        continue
                    res[name][key] = seq
        return res

    # ---------------------------------------------------------------- machine

    def machine(self):
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "?")

        def out(*cmd):
            p = subprocess.run(cmd, capture_output=True, text=True)
            return (p.stdout or p.stderr).strip().splitlines()[0] if (p.stdout or p.stderr) else "?"
        pkgs = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\n",
                               "libtpm2-pkcs11-1", "libtpm2-pkcs11-tools", "tpm2-abrmd",
                               "libtss2-esys-3.0.2-0", "swtpm", "python3"],
                              capture_output=True, text=True).stdout.split("\n")
        self.results["machine"] = {
            "nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(),
            "swtpm": out("swtpm", "--version"), "packages": [p for p in pkgs if p],
            "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            "ptool": str(self.ptool), "module": str(self.module),
            "git": out("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
            "runs": self.args.runs, "rsa_runs": self.args.rsa_runs,
        }


def _replace_attr(yaml_text, attr, hex_value):
    key = f'? !!int "{attr}"\n  : !!str "'
    start = yaml_text.index(key) + len(key)
    end = yaml_text.index('"', start)
    return yaml_text[:start] + hex_value + yaml_text[end:]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--ptool", required=True)
    p.add_argument("--module", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--rsa-runs", type=int, default=10)
    p.add_argument("--rss-runs", type=int, default=2, help="runs under /usr/bin/time -v")
    p.add_argument("--scale", default="1,100,1000,10000")
    p.add_argument("--only", default="cli,module,scale,model")
    args = p.parse_args()
    bench = Bench(args)
    try:
        bench.machine()
        bench.make_bases()
        parts = args.only.split(",")
        if "cli" in parts:
            bench.bench_cli()
        if "module" in parts or "scale" in parts:
            exe, mods = (bench.bench_module() if "module" in parts
                         else (bench.p11bench(), bench.modules()))
            if "scale" in parts:
                bench.bench_scale(exe, mods)
        if "model" in parts:
            bench.bench_model()
    finally:
        bench.results.setdefault("machine", {})["loadavg_end"] = \
            Path("/proc/loadavg").read_text().split()[:3]
        bench.stop()
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(bench.results, indent=1))
        print(f"[bench] wrote {out / 'results.json'} (work dir {bench.work})")


if __name__ == "__main__":
    main()
