#!/usr/bin/python3
"""Turn bench/bench.py's results.json into docs/benchmarks.md, docs/bench-latency.png and
docs/bench-scale.png (gnuplot). Usage: report.py RESULTS_JSON DOCS_DIR"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

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
    plot_latency(results, docs / "bench-latency.png")
    plot_scale(results, docs / "bench-scale.png")
    template = (Path(__file__).parent / "benchmarks.md.in").read_text()
    notes = "\n".join(f"- {n}" for n in results.get("notes", [])) or "- none"
    text = (template.replace("@MACHINE@", machine_section(results))
            .replace("@CLI@", cli_section(results))
            .replace("@TARGETS@", targets_section(results))
            .replace("@MODULE@", module_section(results))
            .replace("@SCALE@", scale_section(results))
            .replace("@NOTES@", notes))
    (docs / "benchmarks.md").write_text(text)
    print(f"wrote {docs / 'benchmarks.md'}, bench-latency.png, bench-scale.png")


if __name__ == "__main__":
    main()
