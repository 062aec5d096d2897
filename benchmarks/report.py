"""Write benchmark results: JSON (everything), a markdown table and a PNG plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = [
    "data_markdown",
    "data_plot",
    "data_targets",
    "headline",
    "markdown",
    "plot",
    "write_all",
    "write_data",
]

METRICS = {
    # key: (title, scale to ns, unit note)
    "latency_ns": ("Per-call latency at one point", 1.0, "median of interleaved rounds"),
    "batch_ns_per_point": ("Batch: time per point", 1.0, "at 100,000 points"),
    "sampler_us_per_step": ("MALA sampler: time per step", 1e3, "20,000 steps"),
    "build_cold_s": ("Build, cold cache (fresh process)", 1e9, ""),
    "build_warm_s": ("Build, warm cache (new process, same cache)", 1e9, ""),
}


def fmt_ns(ns) -> str:
    if ns is None or (isinstance(ns, float) and math.isnan(ns)):
        return ""
    if ns < 1e3:
        return f"{ns:.0f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.3g} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.3g} ms"
    return f"{ns / 1e9:.3g} s"


def fmt_ratio(r) -> str:
    if r is None:
        return ""
    return f"{r:.3g}x" if r < 100 else f"{r:.0f}x"


def _value(rec, metric):
    if rec.get("status") != "ok" and not metric.startswith("build"):
        return None
    v = rec.get(metric)
    if v is None:
        return None
    return v * METRICS[metric][1]


def _best(recs, group, metric, exclude=()):
    best = None
    for name, rec in recs.items():
        if rec.get("group") != group or name in exclude:
            continue
        v = _value(rec, metric)
        if v is not None and (best is None or v < best[1]):
            best = (name, v)
    return best


def _marks(rec, metric) -> str:
    """Footnote marks of a timed cell: * extrapolated or cut short, ᴸ a Python loop."""
    marks = ""
    if metric == "batch_ns_per_point":
        if rec.get("batch_extrapolated"):
            marks += "*"
        if rec.get("batch_mode") == "python loop":
            marks += "ᴸ"
    if metric == "sampler_us_per_step" and rec.get("sampler_steps_timed", 0) < rec.get(
        "sampler_steps", 0
    ):
        marks += "*"
    return marks


#: what an untimed cell says, by the contender's status
_STATUS_TEXT = {
    "missing": "missing",
    "wrong": "**wrong**",
    "timeout": "timeout",
    "error": "error",
    "unsupported": "—",
}


def _cell(rec, metric):
    if metric == "build_warm_s" and rec.get("group") != "symnum":
        return "—"  # no on-disk cache: a warm build is the cold one
    v = _value(rec, metric)
    if v is not None:
        return fmt_ns(v) + _marks(rec, metric)
    status = rec.get("status")
    if status in _STATUS_TEXT:
        return _STATUS_TEXT[status]
    if metric == "batch_ns_per_point" and rec.get("batch_status"):
        return f"batch {rec['batch_status']}"
    if metric == "sampler_us_per_step":
        sampler = rec.get("sampler_status", "")
        for word in ("missing", "error"):
            if sampler.startswith(word):
                return word
    return "—"


def geomean(values):
    values = [v for v in values if v]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def headline(doc) -> dict:
    """Per metric: geometric means over cases of (other / best symnum) for JAX,
    SymNum 0.2.1 and the best peer, and of (best symnum / floor)."""
    out = {}
    for metric in ("latency_ns", "batch_ns_per_point", "sampler_us_per_step", "build_cold_s"):
        ratios = {"jax.jit": [], "symnum 0.2.1": [], "best peer": [], "floor": []}
        for recs in doc["results"].values():
            best = _best(recs, "symnum", metric)
            if best is None:
                continue
            for name in ("jax.jit", "symnum 0.2.1"):
                v = _value(recs.get(name, {}), metric)
                if v:
                    ratios[name].append(v / best[1])
            peer = _best(recs, "peer", metric)
            if peer:
                ratios["best peer"].append(peer[1] / best[1])
            floor = _best(recs, "floor", metric)
            if floor:
                ratios["floor"].append(best[1] / floor[1])
        out[metric] = {k: geomean(v) for k, v in ratios.items()}
    return out


def _note(doc, metric):
    settings = doc.get("settings", {})
    if metric == "batch_ns_per_point" and "batch_n" in settings:
        return f"at {settings['batch_n']:,} points"
    if metric == "sampler_us_per_step" and "sampler_steps" in settings:
        return f"{settings['sampler_steps']:,} steps"
    return METRICS[metric][2]


def _summary_table(doc, metric) -> list[str]:
    title = METRICS[metric][0]
    note = _note(doc, metric)
    lines = [
        f"### {title}" + (f" ({note})" if note else ""),
        "",
        "| case | best symnum | best peer | peer ÷ symnum | jax.jit ÷ symnum | "
        "0.2.1 ÷ symnum | best floor | symnum ÷ floor |",
        "|---|---|---|---|---|---|---|---|",
    ]
    any_row = False
    for case, recs in doc["results"].items():
        best = _best(recs, "symnum", metric)
        if best is None:
            continue
        any_row = True
        peer = _best(recs, "peer", metric)
        floor = _best(recs, "floor", metric)
        jax = _value(recs.get("jax.jit", {}), metric)
        old = _value(recs.get("symnum 0.2.1", {}), metric)
        lines.append(
            "| {} | {} ({}) | {} | {} | {} | {} | {} | {} |".format(
                case,
                fmt_ns(best[1]),
                best[0].removeprefix("symnum"),
                f"{fmt_ns(peer[1])} ({peer[0]})" if peer else "",
                fmt_ratio(peer[1] / best[1]) if peer else "",
                fmt_ratio(jax / best[1]) if jax else "",
                fmt_ratio(old / best[1]) if old else "",
                f"{fmt_ns(floor[1])} ({floor[0]})" if floor else "",
                fmt_ratio(best[1] / floor[1]) if floor else "",
            )
        )
    return [*lines, ""] if any_row else []


def _detail_table(doc, metric, names) -> list[str]:
    title = METRICS[metric][0]
    note = _note(doc, metric)
    rows = []
    for case, recs in doc["results"].items():
        sampled = any("sampler_us_per_step" in r or "sampler_status" in r for r in recs.values())
        if metric == "sampler_us_per_step" and not sampled:
            continue
        cells = [_cell(recs.get(name, {}), metric) for name in names]
        if all(c in ("—", "") for c in cells):
            continue
        rows.append(f"| {case} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        f"#### {title}" + (f" ({note})" if note else ""),
        "",
        "| case | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
        *rows,
        "",
    ]


def markdown(doc) -> str:
    m, v = doc["machine"], doc["versions"]
    names = [c["name"] for c in doc["contenders"]]
    lines = [
        "# symnum benchmarks" + (" (quick smoke run: not representative)" if doc["quick"] else ""),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}, "
        f"{m['compiler']}. Run {m['date']}, {doc['elapsed_s'] / 60:.1f} min; load average "
        f"{m.get('load_average_at_start')} at the start, {m.get('load_average_at_end')} at the "
        "end (the machine was shared: figures carry that noise).",
        "",
        "Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items() if isinstance(val, str))
        + ".",
        "",
        "Command: `python benchmarks/run.py" + (" --quick" if doc["quick"] else "") + "`. "
        "All times are per call / per point / per step (lower is better); ratios "
        "`X ÷ symnum` > 1 mean symnum is faster; `symnum ÷ floor` is how far symnum's best "
        "backend is from the best hand-written code (1 = as fast). JAX times include "
        "`block_until_ready()`; symnum, 0.2.1 and lambdify return NumPy arrays, CasADi "
        "returns `DM`. `*` = time-boxed and extrapolated; `ᴸ` = no batched form, timed as a "
        "Python loop over points. Every contender was checked against a SymPy/mpmath "
        "reference before timing. Build = trace + differentiate + generate + compile + first "
        "call in a fresh process (imports excluded); autograd has nothing to build, so it is "
        "the best peer there by construction.",
        "",
        "## Headline (geometric mean over cases)",
        "",
        "| metric | jax.jit ÷ symnum | 0.2.1 ÷ symnum | best peer ÷ symnum | symnum ÷ floor |",
        "|---|---|---|---|---|",
    ]
    for metric, r in headline(doc).items():
        lines.append(
            f"| {METRICS[metric][0]} | {fmt_ratio(r['jax.jit'])} | "
            f"{fmt_ratio(r['symnum 0.2.1'])} | {fmt_ratio(r['best peer'])} | "
            f"{fmt_ratio(r['floor'])} |"
        )
    lines += ["", "## Summary: symnum's best backend against the best peer and the floor", ""]
    for metric in METRICS:
        if metric != "build_warm_s":
            lines += _summary_table(doc, metric)
    lines += ["## All figures", ""]
    for metric in METRICS:
        lines += _detail_table(doc, metric, names)
    notes = []
    contender_notes = {}
    for case, recs in doc["results"].items():
        for name, rec in recs.items():
            for key in ("reason", "batch_reason", "sampler_status"):
                text = rec.get(key)
                if text and rec.get("status") != "missing" and text != "no sampler for this case":
                    notes.append(f"- {case}, {name}: {text}")
            if rec.get("notes"):
                contender_notes.setdefault(name, rec["notes"])
    notes += [f"- {name}: {text}" for name, text in contender_notes.items()]
    missing = sorted(
        {
            f"- {name}: {rec['reason']}"
            for recs in doc["results"].values()
            for name, rec in recs.items()
            if rec.get("status") == "missing"
        }
    )
    if missing:
        lines += ["## Missing contenders", "", *missing, ""]
    if notes:
        lines += ["## Notes", "", *notes, ""]
    return "\n".join(lines)


def plot(doc, path: Path) -> Path | None:
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    case_names = list(doc["results"])
    names = [c["name"] for c in doc["contenders"]]
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(case_names) + 4), 6.5))
    markers = "o^sDvP*X<>hp"
    symnum_colors = ["#d62728", "#ff7f0e", "#8c2d04", "#e377c2"]
    other_colors = ["#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#bcbd22", "#7f7f7f", "#8c564b"]
    floor_colors = ["#555555", "#999999", "#000000"]
    counters = {"symnum": 0, "peer": 0, "floor": 0}
    width = 0.8
    for j, name in enumerate(names):
        group = next(c["group"] for c in doc["contenders"] if c["name"] == name)
        k = counters[group]
        counters[group] += 1
        if group == "symnum":
            color, size, marker = symnum_colors[k % 4], 90, "o*Ds"[k % 4]
        elif group == "floor":
            color, size, marker = floor_colors[k % 3], 45, "_1x"[k % 3]
        else:
            color, size, marker = other_colors[k % 7], 40, markers[(k + 1) % len(markers)]
        xs, ys = [], []
        for i, case in enumerate(case_names):
            v = _value(doc["results"][case].get(name, {}), "latency_ns")
            if v:
                xs.append(i - width / 2 + width * (j + 0.5) / len(names))
                ys.append(v)
        if xs:
            ax.scatter(
                xs,
                ys,
                s=size,
                marker=marker,
                color=color,
                label=name,
                zorder=3,
                linewidths=2 if group == "floor" else 1,
            )
    ax.set_yscale("log")
    ax.set_xticks(range(len(case_names)))
    ax.set_xticklabels(case_names, rotation=35, ha="right")
    ax.set_ylabel("time per call at one point (ns, log scale)")
    for i in range(len(case_names) - 1):
        ax.axvline(i + 0.5, color="#dddddd", linewidth=0.8, zorder=1)
    ax.grid(axis="y", which="major", color="#cccccc", linewidth=0.6)
    ax.grid(axis="y", which="minor", color="#eeeeee", linewidth=0.4)
    m = doc["machine"]
    ax.set_title(
        f"symnum vs peers: per-call latency (lower is better)\n"
        f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['date']}",
        fontsize=10,
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_all(doc, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {**doc, "headline": headline(doc)}
    paths = []
    json_path = out_dir / "results.json"
    json_path.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    paths.append(json_path)
    md_path = out_dir / "results.md"
    md_path.write_text(markdown(doc) + "\n")
    paths.append(md_path)
    png = plot(doc, out_dir / "latency.png")
    if png:
        paths.append(png)
    return paths


# --- models with data (data_bench.py) ------------------------------------------------

#: a figure that is not a time: what the cell says instead
_DATA_STATUS = {
    "timeout": "timeout",
    "out of memory": "out of memory",
    "skipped": "skipped",
    "missing": "missing",
    "unsupported": "—",
    "error": "error",
    "wrong": "**wrong**",
}

#: issue 11's size rules for the GMM and Poisson cases
BUILD_LIMIT_S = 10.0
PEAK_LIMIT_MB = 2048.0


def _data_rec(doc, model, op, n, name) -> dict:
    for entry in doc["results"].values():
        if (entry["model"], entry["op"], entry["n"]) == (model, op, n):
            return entry["contenders"].get(name, {})
    return {}


def _data_value(rec, key):
    return rec.get(key) if rec.get("status") == "ok" else None


def _failed(rec) -> bool:
    """The contender tried and did not build (a missing contender has not tried)."""
    return rec.get("status") in ("timeout", "out of memory", "skipped", "error", "wrong")


def _verdict(ratio, limit, strict=False) -> str:
    if ratio is None:
        return "not measured"
    if math.isinf(ratio):
        return "no build: timeout, out of memory or error (not met)"
    ok = ratio < limit if strict else ratio <= limit
    return f"{fmt_ratio(ratio)} ({'met' if ok else 'not met'})"


def data_targets(doc) -> list[dict]:
    """Issue 11's performance targets, each symnum backend against its yardstick:
    [{"target", "contender", "verdict"}]; "not measured" where a figure is missing."""
    symnum = [c["name"] for c in doc["contenders"] if c["group"] == "symnum"]
    sizes = sorted({e["n"] for e in doc["results"].values() if e["model"] == "logreg"})
    rows = []
    for op in ("grad", "hess"):
        for name in symnum:
            worst = None
            for n in sizes:
                mine = _data_value(_data_rec(doc, "logreg", op, n, name), "build_s")
                jax = _data_value(_data_rec(doc, "logreg", op, n, "jax.jit"), "build_s")
                if mine is not None and jax:
                    worst = max(worst or 0.0, mine / jax)
                elif jax and _failed(_data_rec(doc, "logreg", op, n, name)):
                    worst = float("inf")  # failed to build where JAX did
            rows.append(
                {
                    "target": f"logreg {op}: cold build <= 3x jax.jit's (worst N of "
                    f"{', '.join(f'{n:,}' for n in sizes)})",
                    "contender": name,
                    "verdict": _verdict(worst, 3.0),
                }
            )
            lo = _data_value(_data_rec(doc, "logreg", op, 100, name), "build_s")
            hi_rec = _data_rec(doc, "logreg", op, 100_000, name)
            hi = _data_value(hi_rec, "build_s")
            growth = hi / lo if lo and hi else (float("inf") if _failed(hi_rec) else None)
            rows.append(
                {
                    "target": f"logreg {op}: build growth N = 100 -> 100,000 <= 1.5x",
                    "contender": name,
                    "verdict": _verdict(growth, 1.5),
                }
            )
    for name in symnum:
        for op, peer, limit, strict, text in (
            ("grad", "jax.jit", 1.0, True, "faster than jax.jit"),
            ("grad", "numba (hand)", 1.2, False, "within 1.2x of the hand-written numba loop"),
            ("hess", "jax.jit", 1.5, False, "within 1.5x of jax.jit"),
        ):
            mine = _data_value(_data_rec(doc, "logreg", op, 10_000, name), "latency_ns")
            ref = _data_value(_data_rec(doc, "logreg", op, 10_000, peer), "latency_ns")
            rows.append(
                {
                    "target": f"logreg {op} per call at N = 10,000: {text}",
                    "contender": name,
                    "verdict": _verdict(mine / ref if mine and ref else None, limit, strict),
                }
            )
    for entry in doc["results"].values():
        if entry["model"] not in ("gmm", "poisson"):
            continue
        for name in symnum:
            rec = entry["contenders"].get(name, {})
            build, peak = _data_value(rec, "build_s"), _data_value(rec, "peak_rss_mb")
            if build is None:
                verdict = rec.get("status", "not measured")
                verdict = "not measured" if verdict == "missing" else f"{verdict} (not met)"
            else:
                ok = build < BUILD_LIMIT_S and peak < PEAK_LIMIT_MB
                verdict = f"{build:.3g} s, {peak:.0f} MB ({'met' if ok else 'not met'})"
            rows.append(
                {
                    "target": f"{entry['model']} {entry['op']} (N = {entry['n']:,}): builds "
                    "in < 10 s with peak memory < 2 GB",
                    "contender": name,
                    "verdict": verdict,
                }
            )
    return rows


def _data_cell(rec, key, scale=1.0) -> str:
    v = _data_value(rec, key)
    if v is not None:
        return fmt_ns(v * scale)
    return _DATA_STATUS.get(rec.get("status"), "")


def data_markdown(doc) -> str:
    m, v = doc["machine"], doc["versions"]
    s = doc["settings"]
    names = [c["name"] for c in doc["contenders"]]
    lines = [
        "# symnum benchmarks: models with data"
        + (" (quick smoke run: not representative)" if doc["quick"] else ""),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}. "
        f"Run {m['date']}, {doc['elapsed_s'] / 60:.1f} min; load average "
        f"{m.get('load_average_at_start')} at the start, {m.get('load_average_at_end')} at "
        "the end (a shared machine adds noise).",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if isinstance(val, str)),
        "",
        f"Command: `{doc['command'].strip()}`. Build = trace to first call (cold: empty "
        "symnum cache, empty PyTensor compile directory, first `jax.jit` call) in a fresh "
        "process after an unrelated warm-up build, imports excluded"
        + (
            f", the fastest of {s['build_repeats']} such builds (each in its own process; "
            f"builds over {s.get('repeat_below_s', 0):g} s once)"
            if s.get("build_repeats", 1) > 1
            else ""
        )
        + "; limits "
        f"{s['timeout']:.0f} s and {s['mem_gb']:g} GB (address space) per process"
        + (
            f", {s['blas_threads']} BLAS thread(s) per process. Peak "
            if s.get("blas_threads")
            else ". Peak "
        )
        + "memory = the largest resident set of the worker or a compiler it ran. Per call = "
        "median of interleaved rounds at the test point"
        + (
            f", the rounds taken in turn by up to {s['timing_processes']} of the build "
            "processes of each contender (where a compiled loop lands in memory moves its "
            "speed by up to 1.7x; jax.jit in one process: XLA's thread pools)"
            if s.get("timing_processes", 1) > 1
            else ""
        )
        + ". Every output was checked against "
        "a reference (closed forms; mpmath for the mixture) before timing. After a timeout "
        "or running out of memory, larger N of that contender and operator are skipped. "
        "Floors have nothing to build (their build is the compile of a generic loop).",
        "",
        "## Issue 11's targets (symnum's backends)",
        "",
        "| target | contender | figure |",
        "|---|---|---|",
    ]
    lines += [f"| {r['target']} | {r['contender']} | {r['verdict']} |" for r in data_targets(doc)]
    lines += ["", "## All figures", ""]
    for title, key, unit in (
        ("Build, cold (trace to first call)", "build_s", 1e9),
        ("Peak memory of the build (MB)", "peak_rss_mb", None),
        ("Per call", "latency_ns", 1.0),
    ):
        lines += [f"### {title}", "", "| case | " + " | ".join(names) + " |"]
        lines.append("|---|" + "---|" * len(names))
        for case, entry in doc["results"].items():
            cells = []
            for name in names:
                rec = entry["contenders"].get(name, {})
                if unit is None:
                    val = _data_value(rec, key)
                    cells.append(f"{val:.0f}" if val is not None else _data_cell(rec, key))
                else:
                    cells.append(_data_cell(rec, key, unit))
            lines.append(f"| {case} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _data_ratio_table(doc, names)
    notes = sorted(
        {
            f"- {case}, {name}: {rec['status']}: {rec.get('reason', '')}"
            for case, entry in doc["results"].items()
            for name, rec in entry["contenders"].items()
            if rec.get("status") not in ("ok", "unsupported", None)
        }
    )
    if notes:
        lines += ["## Notes", "", *notes, ""]
    return "\n".join(lines)


def _data_ratio_table(doc, names) -> list[str]:
    """Per case and contender: build and per call relative to jax.jit, per call relative
    to the hand-written numba loop (> 1: slower than the yardstick)."""
    lines = [
        "### Ratios (build ÷ jax.jit's, per call ÷ jax.jit's, per call ÷ numba (hand)'s)",
        "",
        "| case | " + " | ".join(n for n in names if n != "jax.jit") + " |",
        "|---|" + "---|" * (len(names) - ("jax.jit" in names)),
    ]
    for case, entry in doc["results"].items():
        recs = entry["contenders"]
        jax, floor = recs.get("jax.jit", {}), recs.get("numba (hand)", {})
        cells = []
        for name in names:
            if name == "jax.jit":
                continue
            rec = recs.get(name, {})
            parts = []
            for key, ref in (("build_s", jax), ("latency_ns", jax), ("latency_ns", floor)):
                mine, theirs = _data_value(rec, key), _data_value(ref, key)
                ok = mine is not None and theirs and rec is not ref
                parts.append(fmt_ratio(mine / theirs) if ok else "-")
            cells.append(" / ".join(parts) if rec.get("status") == "ok" else _data_cell(rec, ""))
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def data_plot(doc, path: Path, model: str = "logreg") -> Path | None:
    """Log-log plot of build time and per-call time against N for ``model``: one line
    per contender and operator (gradient solid, Hessian dashed); a build that timed out
    or ran out of memory is an ``x`` at the time limit (a lower bound)."""
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    entries = [e for e in doc["results"].values() if e["model"] == model]
    if not entries:
        return None
    names = [c["name"] for c in doc["contenders"]]
    colors = {
        "symnum[numpy]": "#d62728",
        "symnum[numba]": "#ff7f0e",
        "symnum[c]": "#8c2d04",
        "jax.jit": "#1f77b4",
        "pytensor (C)": "#2ca02c",
        "pytensor (NUMBA)": "#9467bd",
        "numba (hand)": "#555555",
        "numpy (hand)": "#999999",
    }
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    limit = doc["settings"]["timeout"]
    failed_label = True
    for name in names:
        for op, style in (("grad", "-"), ("hess", "--"), ("val", ":"), ("mtp", "-.")):
            points = sorted(
                (e["n"], e["contenders"].get(name, {})) for e in entries if e["op"] == op
            )
            if not points:
                continue
            color = colors.get(name, "#17becf")
            for ax, key, scale, floors in (
                (axes[0], "build_s", 1.0, False),
                (axes[1], "latency_ns", 1e-3, True),
            ):
                if doc_group(doc, name) == "floor" and not floors:
                    continue
                xs = [n for n, rec in points if _data_value(rec, key) is not None]
                ys = [_data_value(rec, key) * scale for n, rec in points if n in xs]
                if xs:
                    marker = {"grad": "o", "hess": "s"}.get(op, "^")
                    ax.plot(xs, ys, style, marker=marker, color=color, label=f"{name} {op}")
                bad = [n for n, rec in points if rec.get("status") in ("timeout", "out of memory")]
                if bad and key == "build_s":
                    ax.scatter(
                        bad,
                        [limit] * len(bad),
                        marker="x",
                        s=80,
                        color=color,
                        label="timeout / out of memory (at the limit)" if failed_label else None,
                    )
                    failed_label = False
    for ax, ylabel in (
        (axes[0], "cold build: trace to first call (s)"),
        (axes[1], "time per call (µs)"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N (data rows)")
        ax.set_ylabel(ylabel)
        ax.grid(which="major", color="#cccccc", linewidth=0.6)
        ax.grid(which="minor", color="#eeeeee", linewidth=0.4)
    axes[0].set_title(f"{model}: build time against N (lower is better)", fontsize=10)
    axes[1].set_title(f"{model}: per-call time against N", fontsize=10)
    if axes[1].get_legend_handles_labels()[0] or axes[0].get_legend_handles_labels()[0]:
        handles = [h for ax in axes for h in ax.get_legend_handles_labels()[0]]
        labels = [lab for ax in axes for lab in ax.get_legend_handles_labels()[1]]
        unique = dict(zip(labels, handles, strict=True))
        axes[1].legend(
            unique.values(),
            unique.keys(),
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            frameon=False,
        )
    m = doc["machine"]
    fig.suptitle(
        f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['date']}"
        + (" (quick run)" if doc.get("quick") else ""),
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def doc_group(doc, name) -> str:
    return next((c["group"] for c in doc["contenders"] if c["name"] == name), "peer")


def write_data(doc, out_dir: Path) -> list[Path]:
    """``data_results.json``, ``data_results.md`` and ``data_scaling.png`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {**doc, "targets": data_targets(doc)}
    paths = [out_dir / "data_results.json", out_dir / "data_results.md"]
    paths[0].write_text(json.dumps(doc, indent=1, default=str) + "\n")
    paths[1].write_text(data_markdown(doc) + "\n")
    png = data_plot(doc, out_dir / "data_scaling.png")
    if png:
        paths.append(png)
    return paths


if __name__ == "__main__":
    import sys

    # Re-render the table and plot from a results.json: python report.py results.json
    # (or data_results.json, written by data_bench.py)
    source = Path(sys.argv[1])
    loaded = json.loads(source.read_text())
    writer = write_data if source.name.startswith("data_") else write_all
    written = writer(loaded, source.parent)
    print("wrote", ", ".join(str(p) for p in written))
