#!/usr/bin/python3
"""Turn bench/bench.py's results.json into docs/benchmarks.md, docs/bench-latency.png,
docs/bench-scale.png and docs/bench-laptop.png (gnuplot).
Usage: report.py RESULTS_JSON DOCS_DIR [--model-only]  (--model-only: rewrite only the
laptop-TPM model part of an existing docs/benchmarks.md, after `bench.py --only model`)"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tpm_latency  # noqa: E402

VARIANTS = ("ours", "ours-abrmd", "upstream")
READ_ONLY = ("listtokens", "listobjects", "ssh-pubkey")
COUNT_TARGETS = {"addkey ecc256": (6, 16), "addkey rsa2048": (6, 16), "init": (5, 12),
                 "addtoken": (8, 28)}


def ms(s, key="median"):
    return s[key] * 1e3 if s else None


def fmt_ms(s):
    if not s:
        return "–"
    return f"{ms(s):.1f} ({ms(s, 'min'):.1f}–{ms(s, 'max'):.1f})"


def mib(s):
    return f"{s['median'] / 1024:.1f}" if s else "–"


def ratio(a, b):
    return f"{a / b:.1f}×" if a and b else "–"


def cli_section(res):
    cmds, counts = res["commands"], res["counts"]
    lines = [
        "| command | ours (swtpm) ms | ours (abrmd) ms | upstream (abrmd) ms | wall ratio "
        "upstream/ours (abrmd/abrmd) | CPU ms ours / upstream | TPM cmds ours / ours-abrmd* / "
        "upstream* | TPM busy ms (ours) | peak RSS MiB ours / upstream |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, per in cmds.items():
        c = counts.get(name, {})
        t = {v: per.get(v, {}).get("time") for v in VARIANTS}
        cpu = {v: per.get(v, {}).get("cpu") for v in VARIANTS}
        n = {v: c.get(v, {}).get("commands", "–") for v in VARIANTS}
        busy = c.get("ours", {}).get("tpm_seconds")
        lines.append(
            f"| {name} | {fmt_ms(t['ours'])} | {fmt_ms(t['ours-abrmd'])} | "
            f"{fmt_ms(t['upstream'])} | {ratio(ms(t['upstream']), ms(t['ours']))} "
            f"({ratio(ms(t['upstream']), ms(t['ours-abrmd']))}) | "
            f"{ms(cpu['ours']) or 0:.1f} / {ms(cpu['upstream']) or 0:.0f} | "
            f"{n['ours']} / {n['ours-abrmd']} / {n['upstream']} | "
            f"{busy * 1e3 if busy is not None else 0:.1f} | "
            f"{mib(per['ours'].get('rss_kib'))} / {mib(per['upstream'].get('rss_kib'))} |")
    return "\n".join(lines)


def targets_section(res):
    cmds, counts = res["commands"], res["counts"]
    rows = ["| target | measured | met |", "|---|---|---|"]

    def row(what, value, ok):
        rows.append(f"| {what} | {value} | {'yes' if ok else '**no**'} |")

    for name, (goal, up) in COUNT_TARGETS.items():
        c = counts.get(name, {})
        if "ours" in c:
            row(f"TPM commands `{name}` ≤ {goal} (upstream {up})",
                f"{c['ours']['commands']} (upstream here: {c.get('upstream', {}).get('commands')})",
                c["ours"]["commands"] <= goal)
    for name in READ_ONLY:
        c = counts.get(name, {})
        if "ours" in c:
            row(f"TPM commands `{name}` = 0", c["ours"]["commands"], c["ours"]["commands"] == 0)
    for name, per in cmds.items():
        up, ours = ms(per["upstream"]["time"]), ms(per["ours"]["time"])
        if up and ours:
            row(f"`{name}` ≥ 15× faster than upstream (wall, median)", f"{up / ours:.1f}×",
                up / ours >= 15)
    for name in READ_ONLY:
        if name in cmds and cmds[name]["ours"]["time"]:
            v = ms(cmds[name]["ours"]["time"])
            row(f"`{name}` ≤ 5 ms (wall, median)", f"{v:.1f} ms", v <= 5)
    worst = max((per["ours"]["rss_kib"]["max"], name) for name, per in cmds.items()
                if per["ours"].get("rss_kib"))
    row("peak RSS ≤ 8 MiB (every command)", f"{worst[0] / 1024:.1f} MiB max ({worst[1]})",
        worst[0] <= 8 * 1024)
    big = res.get("scale", {}).get("10000", {}).get("module find", {})
    if "ours" in big:
        o, u = ms(big["ours"]["time"]), ms(big.get("upstream", {}).get("time"))
        row("module C_Initialize+find, 10 000 keys ≤ 50 ms and < upstream",
            f"{o:.1f} ms (upstream {u:.1f} ms)" if u else f"{o:.1f} ms", o <= 50 and (not u or o < u))
    mod = res.get("module", {})
    for what, label in (("sign_ec", "ECDSA P-256"), ("sign_rsa", "RSA-2048")):
        d = mod.get(what, {})
        if "ours" in d and "upstream" in d:
            o, u = d["ours"]["sigs_per_s"]["median"], d["upstream"]["sigs_per_s"]["median"]
            row(f"{label} signatures/s ≥ upstream", f"{o:.1f} vs {u:.1f}", o >= u)
    return "\n".join(rows)


def module_section(res):
    mod = res.get("module", {})
    out = []
    find = mod.get("find", {})
    if find:
        out += ["| module | C_Initialize+GetSlotList+find all (ms) | C_Initialize alone (ms) | "
                "objects found | TPM commands | process wall ms | peak RSS MiB |",
                "|---|---|---|---|---|---|---|"]
        for m, d in find.items():
            out.append(f"| {m} | {fmt_ms(_s(d['init_find_ms']))} | "
                       f"{d['initialize_ms']['median']:.2f} | {d['objects']['median']:.0f} | "
                       f"{d.get('tpm_commands', '–')} | {fmt_ms(d['process_s'])} | "
                       f"{mib(d.get('rss_kib'))} |")
    sign_rows = []
    for what, label in (("sign_ec", "500 × ECDSA P-256"), ("sign_rsa", "200 × RSA-2048 PKCS#1")):
        for m, d in mod.get(what, {}).items():
            sign_rows.append(f"| {label} | {m} | {d['sigs_per_s']['median']:.1f} "
                             f"({d['sigs_per_s']['min']:.1f}–{d['sigs_per_s']['max']:.1f}) | "
                             f"{d['sign_ms']['median'] / d['signs']['median']:.2f} |")
    if sign_rows:
        out += ["", "| signatures | module | signatures/s median (min–max) | ms/signature |",
                "|---|---|---|---|", *sign_rows]
    return "\n".join(out)


def _s(d):
    """A summary in ms converted to the seconds-based one fmt_ms expects."""
    return {k: (v / 1e3 if k != "n" else v) for k, v in d.items()}


def scale_section(res):
    scale = res.get("scale", {})
    if not scale:
        return "(not run)"
    names = []
    for per in scale.values():
        for name, d in per.items():
            for v in d:
                if (name, v) not in names:
                    names.append((name, v))
    head = "| keys | " + " | ".join(f"{n} ({v})" for n, v in names) + " |"
    lines = [head, "|---" * (len(names) + 1) + "|"]
    for size, per in scale.items():
        cells = []
        for name, v in names:
            s = per.get(name, {}).get(v, {}).get("time")
            cells.append(f"{ms(s):.1f}" if s else "–")
        lines.append(f"| {int(size):,} | " + " | ".join(cells) + " |")
    lines += ["", "CPU time (user+sys, ms, median) of the same runs — less sensitive to a busy "
              "machine than wall time:", "", head, "|---" * (len(names) + 1) + "|"]
    for size, per in scale.items():
        cells = []
        for name, v in names:
            s = per.get(name, {}).get(v, {}).get("cpu")
            cells.append(f"{ms(s):.1f}" if s else "–")
        lines.append(f"| {int(size):,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def plot_latency(res, path):
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
        for name, per in res["commands"].items():
            vals = [ms(per.get(v, {}).get("time")) or 0 for v in VARIANTS]
            f.write(f'"{name}" ' + " ".join(f"{v:.3f}" for v in vals) + "\n")
    gnuplot(f"""
set terminal pngcairo size 1100,600 font "Sans,11" noenhanced
set output "{path}"
set title "tpm2-ptool latency per command (median wall time, swtpm, log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [0.5:*]
set ylabel "milliseconds"
set grid ytics
set key top left
set xtics rotate by -25
plot "{f.name}" using 2:xtic(1) title "ours (swtpm TCTI)" lc rgb "#1b9e77", \\
     "" using 3 title "ours (via tpm2-abrmd)" lc rgb "#7570b3", \\
     "" using 4 title "upstream tpm2_ptool 1.9.0 (via tpm2-abrmd)" lc rgb "#d95f02"
""")


def plot_scale(res, path):
    scale = res.get("scale", {})
    series = [("listobjects", "ours"), ("listobjects", "upstream"), ("ssh-pubkey", "ours"),
              ("ssh-pubkey", "upstream"), ("addkey ecc256", "ours"), ("addkey ecc256", "upstream"),
              ("module find", "ours"), ("module find", "upstream")]
    files = []
    for name, v in series:
        with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
            for size, per in scale.items():
                s = per.get(name, {}).get(v, {}).get("time")
                if s:
                    f.write(f"{size} {ms(s):.3f}\n")
        files.append((name, v, f.name))
    colors = {"listobjects": "#1b9e77", "ssh-pubkey": "#d95f02", "addkey ecc256": "#7570b3",
              "module find": "#e7298a"}
    plots = ", \\\n     ".join(
        f'"{fn}" using 1:2 with linespoints lw 2 pt 7 dt {1 if v == "ours" else 2} '
        f'lc rgb "{colors[name]}" title "{name} ({v})"'
        for name, v, fn in files if Path(fn).stat().st_size)
    gnuplot(f"""
set terminal pngcairo size 1100,650 font "Sans,11" noenhanced
set output "{path}"
set title "Scale: latency vs keys in the token (median wall time; solid = ours, dashed = upstream)"
set logscale xy
set xlabel "keys in the token"
set ylabel "milliseconds"
set xrange [0.7:15000]
set grid
set key outside right
plot {plots}
""")


# ------------------------------------------------------------------ laptop-TPM model

LAPTOP_BEGIN = "<!-- laptop-model:begin (bench/report.py writes this part) -->"
LAPTOP_END = "<!-- laptop-model:end -->"

# What each command cannot avoid (its floor), ours.
FLOORS = {
    "init": "here GetCapability(handles) + one ReadPublic per persistent handle: the bench's "
            "TPM already holds an identical primary (made for the base stores) and init "
            "reuses it. On a TPM without one: GetCapability, CreatePrimary(rsa2048), "
            "EvictControl, FlushContext (4 commands, about 2.9 s: the RSA-2048 key "
            "generation is 90% of upstream's time too, so ÷3 is then not reachable)",
    "addtoken": "StartAuthSession(salted) + 2×Create(seal): the two PIN seals, each with its "
                "auth encrypted; the PSS probe (GetCapability, LoadExternal, Sign, "
                "FlushContext) only for the first token of a primary. ÷5 reached",
    "addtoken (2nd token)": "StartAuthSession(salted) + 2×Create(seal) (the PSS verdict is "
                            "reused from the primary's first token)",
    "addkey ecc256": "salted session, Load + Unseal + FlushContext of the seal (PIN check and "
                     "wrapping key), Create of the key ending the session; + GetCapability "
                     "for the first key under a primary only. ÷3 not reachable: the salted "
                     "session + Unseal + the key generation exceed upstream's time ÷ 3",
    "addkey rsa2048": "as addkey ecc256; Create(rsa2048) is an RSA key generation (90% of "
                      "either tool's time: ÷3 not reachable)",
    "addkey ecc256 (2nd)": "as addkey ecc256, without GetCapability (the store's keys tell "
                           "the TPM's algorithms)",
    "import ecc": "salted session, the seal's Load + Unseal + FlushContext, Import, Load (the "
                  "imported blob is checked once; it ends the session) + its FlushContext",
    "link": "salted session, the seal's Load + Unseal + FlushContext, Load of the key (proves "
            "the parent; ends the session) + its FlushContext",
    "export": "salted session, the seal's Load + Unseal (ends the session) + FlushContext (the "
              "wrapping key decrypts the object auth)",
    "changepin": "salted session, Load + ObjectChangeAuth (ends the session) + FlushContext "
                 "of the seal",
    "initpin": "salted session, the SO seal's Load + Unseal + FlushContext, Create of the new "
               "user seal (ends the session)",
    "verify": "salted session, the seal's Load + Unseal + FlushContext per PIN, one Load + "
              "FlushContext per key (the last Load ends the session)",
    "listobjects": "none: the store alone",
    "module: C_Login": "salted session, the seal's Load + Unseal + FlushContext; the session "
                       "stays for the signatures (their key auth is HMAC'd, never sent in "
                       "clear) and is flushed at C_Finalize",
    "module: first C_Sign ECDSA": "Load of the key + Sign (+ FlushContext when it is evicted)",
    "module: first C_Sign RSA": "Load of the key + Sign",
}

# Why "ours ≤ upstream ÷ 3" cannot hold for the commands that open a token with its PIN.
FLOOR_NOTE = (
    "**Where the floor is.** Every command that opens a token (addkey, import, link, export, "
    "changepin, initpin, verify, the module's C_Login) must prove the PIN and get the "
    "wrapping key: a TPM2_Unseal (or ObjectChangeAuth) of the seal object, which first has "
    "to be loaded (TPM2_Load) and afterwards flushed, and whose auth and answer cross the "
    "bus, so it runs in a salted session (TPM2_StartAuthSession salted with the primary: "
    "an RSA-2048 private-key decryption in the TPM). Dropping the salt (an unsalted or bound "
    "session) would let anyone who records the bus brute-force the PIN offline, so we keep "
    "it. That floor (StartAuthSession + Load + Unseal + FlushContext) is modelled at "
    "about 0.2 s direct (the salted StartAuthSession alone 0.13 s: an RSA-2048 OAEP "
    "decryption), more behind a resource manager; upstream sends the same four commands "
    "plus tpm2-tools' own, and its modelled time ÷ 3 (0.11–0.23 s for these commands in the "
    "table) is below our floor, so the target is not reachable there without weakening "
    "security; addkey adds the key generation (Create), which both tools must send. The "
    "module's C_Login and first C_Sign send the same sequence as upstream's module (1.0×): "
    "both are at the floor already. We reach ÷ 3 where upstream sends avoidable expensive "
    "commands (addtoken: an RSA key generation for the PSS probe; C_Initialize). "
    "Avoidable commands are gone: each session ends with its last command "
    "(continueSession cleared) instead of a FlushContext of its own, no object is loaded "
    "twice, and TPM2_GetCapability(algorithms) is sent only when no key under the primary "
    "tells the TPM's algorithms (the first key of a primary). Counts are asserted exactly "
    "in tests/integration/test_tpm_command_counts.py."
)


def _seconds(ms):
    return f"{ms / 1e3:.2f}"


def _entry(seq, cpu):
    return {"seq": seq, "ms": tpm_latency.model_ms(seq), "cpu_ms": cpu * 1e3}


def _module_rows(model):
    """Module rows as differences of the p11bench runs: (name, {variant: entry})."""
    def diff(run, before):
        return {v: _entry(e["seq"][len(before.get(v, {"seq": []})["seq"]):],
                          e["cpu_s"] - before.get(v, {"cpu_s": 0})["cpu_s"])
                for v, e in run.items()}
    base = model.get("module: C_Initialize", {})
    login = model.get("module: + C_Login", {})
    rows = [("module: C_Initialize", {v: _entry(e["seq"], e["cpu_s"]) for v, e in base.items()}),
            ("module: C_Login", diff(login, base))]
    for what in ("ECDSA", "RSA"):
        rows.append((f"module: first C_Sign {what}",
                     diff(model.get(f"module: + first C_Sign {what}", {}), login)))
    return rows


def laptop_rows(res):
    """[(command, {variant: {seq, ms, cpu_ms}})] for the CLI commands and the module."""
    model = res.get("model", {})
    rows = []
    for name, per in model.items():
        if name.startswith("module:"):
            continue
        rows.append((name, {v: _entry(e["seq"], e["cpu_s"]) for v, e in per.items()}))
    return rows + _module_rows(model)


def _up(per):
    """upstream's entry behind the resource manager (the CLI's 'upstream' is via abrmd)."""
    return per.get("upstream-abrmd", per.get("upstream"))


def laptop_section(res):
    rows = laptop_rows(res)
    if not rows:
        return "(not run: `scripts/bench --only model`)"
    out = [
        "Modelled TPM time in seconds: the sum of the per-command latencies below over the "
        "exact command sequence recorded on swtpm. *via RM*: behind a resource manager "
        "(tpm2-abrmd here; the kernel's /dev/tpmrm0, the default on a laptop, wraps every "
        "command in the same kind of ContextSave/ContextLoad/FlushContext), the fair "
        "comparison, since upstream's tool needs one. *+ host*: plus the CPU time the process "
        "(with upstream's tpm2-tools children) took on this machine, a rough stand-in for the "
        "host side on a laptop. Module rows: our module and upstream's `libtpm2_pkcs11.so` "
        "on the same upstream-made store.",
        "",
        "| command | ours direct: cmds / s | ours via RM: cmds / s (+ host) | upstream via RM: "
        "cmds / s (+ host) | upstream ÷ ours, TPM (+ host) | ours' floor (commands that cannot "
        "be avoided) |",
        "|---|---|---|---|---|---|",
    ]
    for name, per in rows:
        def cell(e, host=True):
            if not e:
                return "–"
            text = f"{len(e['seq'])} / {_seconds(e['ms'])}"
            return text + (f" ({_seconds(e['ms'] + e['cpu_ms'])})" if host else "")
        ours, up = per.get("ours-abrmd"), _up(per)
        if ours and up and ours["ms"]:
            ratio = (f"{up['ms'] / ours['ms']:.1f}× "
                     f"({(up['ms'] + up['cpu_ms']) / (ours['ms'] + ours['cpu_ms']):.1f}×)")
        else:
            ratio = "–"
        out.append(f"| {name} | {cell(per.get('ours'), False)} | {cell(ours)} | {cell(up)} | "
                   f"{ratio} | {FLOORS.get(name, '')} |")
    out += ["", FLOOR_NOTE]
    out += ["", "Where the modelled TPM time goes (ours via RM, the two most expensive kinds of "
            "command):", ""]
    for name, per in rows:
        e = per.get("ours-abrmd")
        if e and e["seq"]:
            parts = ", ".join(f"{lab} {ms / 1e3:.2f} s"
                              for lab, ms in tpm_latency.heaviest(e["seq"]))
            out.append(f"- {name}: {parts}")
    out += ["", "<details><summary>The recorded command sequences</summary>", ""]
    for name, per in rows:
        out.append(f"**{name}**")
        out.append("")
        for v in ("ours", "ours-abrmd", "upstream", "upstream-abrmd"):
            if v in per:
                out.append(f"- {v}: {tpm_latency.compact(per[v]['seq']) or '(none)'}")
        out.append("")
    out += ["</details>", ""]
    return "\n".join(out)


def laptop_targets(res):
    rows = dict(laptop_rows(res))
    out = ["| target | modelled TPM time | met |", "|---|---|---|"]
    at = rows.get("addtoken", {})
    if "ours" in at:
        creates = [c for c in at["ours"]["seq"] if c["name"] == "CreatePrimary"]
        out.append(f"| `addtoken` sends no CreatePrimary | {len(creates)} CreatePrimary | "
                   f"{'yes' if not creates else '**no**'} |")
    for name, per in rows.items():
        up, ours = _up(per), per.get("ours-abrmd")
        if not up or not ours or not up["seq"]:
            continue
        goal = 5 if name == "addtoken" else 3
        ok = ours["ms"] * goal <= up["ms"]
        ratio = f"{up['ms'] / ours['ms']:.1f}×" if ours["ms"] else "∞"
        out.append(f"| `{name}`: ours ≤ upstream ÷ {goal} (via RM) | {_seconds(ours['ms'])} s vs "
                   f"{_seconds(up['ms'])} s ({ratio}) | {'yes' if ok else '**no**'} |")
    return "\n".join(out)


def model_tables():
    chips = tpm_latency.WOLFTPM_CHIPS
    out = ["Per-operation figures from wolfTPM's benchmark (ms, mean per operation; discrete "
           "TPMs on SPI, no resource manager). The model's *typical* value is the median of "
           "the six chips.", "",
           "| operation | " + " | ".join(chips) + " | median |",
           "|---" * (len(chips) + 2) + "|"]
    for op, vals in tpm_latency.WOLFTPM.items():
        out.append(f"| {op} | " + " | ".join(f"{v:g}" for v in vals)
                   + f" | {tpm_latency._median(vals):g} |")
    out += ["", "The model: one latency per TPM command and class (class = the key type the "
            "command carries, read from its parameters in the capture; salted-rsa2048 = a "
            "StartAuthSession whose salt is RSA-encrypted). **guess** = no published "
            "per-command measurement found; those are bounded by the measured ones.", "",
            "| command | class | typical ms | basis |", "|---|---|---|---|"]
    for cmd, cls, ms, basis in tpm_latency.model_table_rows():
        out.append(f"| {cmd} | {cls or 'any'} | {ms:g} | {basis} |")
    out += ["", "Sources:", ""]
    out += [f"- **{k}**: {v}" for k, v in tpm_latency.SOURCES.items()]
    return "\n".join(out)


def plot_laptop(res, path):
    rows = [(n, per) for n, per in laptop_rows(res)
            if any(e["seq"] for e in per.values()) and n != "module: C_Initialize"]
    if not rows:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
        for name, per in rows:
            vals = [per[v]["ms"] / 1e3 if v in per else 0 for v in ("ours", "ours-abrmd")]
            up = _up(per)["ms"] / 1e3 if _up(per) else 0
            f.write(f'"{name}" ' + " ".join(f"{max(v, 0.001):.3f}" for v in (*vals, up)) + "\n")
    gnuplot(f"""
set terminal pngcairo size 1200,650 font "Sans,11" noenhanced
set output "{path}"
set title "Estimated time on a laptop TPM (latency model over the recorded TPM commands, log scale)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [0.01:*]
set ylabel "seconds (modelled TPM time)"
set grid ytics
set key top left
set xtics rotate by -30
set bmargin 8
set rmargin 12
plot "{f.name}" using 2:xtic(1) title "ours (direct)" lc rgb "#1b9e77", \\
     "" using 3 title "ours (via resource manager)" lc rgb "#7570b3", \\
     "" using 4 title "upstream 1.9.0 (via resource manager)" lc rgb "#d95f02"
""")


def laptop_text(res):
    return "\n".join([
        LAPTOP_BEGIN, "", laptop_section(res), "", "### Targets (laptop model)", "",
        laptop_targets(res), "", "### The latency model", "", model_tables(), "", LAPTOP_END])


def update_laptop_only(results, docs):
    """--model-only: rewrite only the laptop part of an existing docs/benchmarks.md."""
    path = docs / "benchmarks.md"
    text = path.read_text()
    start, end = text.index(LAPTOP_BEGIN), text.index(LAPTOP_END) + len(LAPTOP_END)
    path.write_text(text[:start] + laptop_text(results) + text[end:])
    plot_laptop(results, docs / "bench-laptop.png")
    print(f"updated the laptop model in {path}, bench-laptop.png")


def machine_section(res):
    m = res["machine"]
    pk = "\n".join(f"  - {p}" for p in m["packages"])
    return (f"- CPU: {m['cpu']}, `nproc` = {m['nproc']}, kernel {m['kernel']}\n"
            f"- load average when the run started: {' '.join(m['loadavg'])}"
            f"{'; at the end: ' + ' '.join(m['loadavg_end']) if 'loadavg_end' in m else ''}\n"
            f"- {m['swtpm']}\n- packages:\n{pk}\n"
            f"- ours: `{m['ptool']}` (git {m['git']}), module `{m['module']}`\n"
            f"- runs per command: {m['runs']} (addkey rsa2048: {m['rsa_runs']})")


def main():
    results = json.loads(Path(sys.argv[1]).read_text())
    docs = Path(sys.argv[2])
    if "--model-only" in sys.argv[3:]:
        update_laptop_only(results, docs)
        return
    plot_latency(results, docs / "bench-latency.png")
    plot_laptop(results, docs / "bench-laptop.png")
    plot_scale(results, docs / "bench-scale.png")
    template = (Path(__file__).parent / "benchmarks.md.in").read_text()
    notes = "\n".join(f"- {n}" for n in results.get("notes", [])) or "- none"
    text = (template.replace("@MACHINE@", machine_section(results))
            .replace("@CLI@", cli_section(results))
            .replace("@TARGETS@", targets_section(results))
            .replace("@MODULE@", module_section(results))
            .replace("@SCALE@", scale_section(results))
            .replace("@LAPTOP@", laptop_text(results))
            .replace("@NOTES@", notes))
    # The table bench/module_bench.py writes (both modules on one store) is kept as it was.
    old = docs / "benchmarks.md"
    begin, end = "<!-- module-bench begin -->", "<!-- module-bench end -->"
    if old.exists() and begin in text:
        previous = old.read_text()
        if begin in previous and end in previous:
            kept = previous[previous.index(begin):previous.index(end) + len(end)]
            text = text[:text.index(begin)] + kept + text[text.index(end) + len(end):]
    (docs / "benchmarks.md").write_text(text)
    print(f"wrote {docs / 'benchmarks.md'}, bench-latency.png, bench-scale.png")


if __name__ == "__main__":
    main()
