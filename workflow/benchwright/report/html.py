"""The one-page HTML report per SKU and the comparison page across SKUs.

Every number is taken from the results table (results.csv) and summary.json, and carries its exact value in a
``data-value`` attribute beside the rounded text, keyed by ``data-key`` (``<system>/<benchmark>/<scenario>/
<precision>/<column>``), so a reader (or a test in a browser) can check the page against the CSV.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

from ..harness.scenarios import policy
from .table import NOT_MEASURED, ReportSpec

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:1.4em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0} th,td{border:1px solid #ccc;padding:.25em .5em}
th{background:#f3f3f3;text-align:left} td.num{text-align:right;font-variant-numeric:tabular-nums}
.bad{color:#b00;font-weight:bold} .note{color:#666;font-size:.85em} .smoke{background:#fff3cd;padding:.5em}
.drift{background:#f8d7da;padding:.5em;border:1px solid #b00}
img{max-width:100%;border:1px solid #eee;margin:.3em 0}
"""


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def _cell(key: str, value: Any, text: str | None = None, cls: str = "num") -> str:
    exact = "" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(value) \
        if isinstance(value, float) else str(value)
    shown = html.escape(text if text is not None else _fmt(value))
    return f'<td class="{cls}" data-key="{html.escape(key)}" data-value="{html.escape(exact)}">{shown}</td>'


def _metric_text(row: Any) -> str:
    if row.unit == "ns":
        return f"{row.value / 1e6:.3f} ms"
    return f"{_fmt(row.value)} {row.unit}"


def _head(title: str) -> str:
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>")


def _flagged(table: pd.DataFrame, system: str | None, column: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The rows (of ``system``), those whose text ``column`` is set, and their list items keyed
    ``<run>/<column>``; a table written before the column existed flags nothing."""
    rows = table if system is None else table[table.system == system]
    if column not in rows:
        return rows, rows.iloc[0:0], ""
    flagged = rows[rows[column].map(has_drift)]
    items = "".join(
        f'<li data-key="{html.escape(_run_key(r))}/{column}" data-value="{html.escape(getattr(r, column))}"><code>'
        f'{html.escape(_run_key(r))}</code>: {html.escape(getattr(r, column))}</li>' for r in flagged.itertuples())
    return rows, flagged, items


def drift_box(table: pd.DataFrame, system: str | None = None) -> str:
    """A warning listing the runs produced under other versions or hardware than the rest (empty if none)."""
    rows, flagged, items = _flagged(table, system, "drift")
    if flagged.empty:
        return ""
    return (f'<div class="drift"><b>Drift: {len(flagged)} of {len(rows)} run(s) were produced under other versions, '
            "code or hardware than the rest</b>; compare their numbers with care (the provenance columns of "
            f"results.csv say what each run used).<ul>{items}</ul></div>")


def failure_box(table: pd.DataFrame, system: str | None = None) -> str:
    """The runs that failed (a performance run still INVALID, an accuracy under target), with their reasons
    (empty if none)."""
    _, failed, items = _flagged(table, system, "failure")
    if failed.empty:
        return ""
    return (f'<div class="drift" id="failures"><b>{len(failed)} run(s) failed</b>: they are kept as results '
            "(results.csv, status.csv). The submission bundle refuses a result whose submitted run (run 1) stayed "
            "INVALID or whose accuracy is under its target; a failed repeat (run_2, ...) lowers the result's VALID "
            "rate.<ul>" + items + "</ul></div>")


def has_drift(value: Any) -> bool:
    return isinstance(value, str) and value != ""  # read back from the CSV, an empty cell is NaN


def _run_key(r: Any) -> str:
    if r.kind == "training":
        return f"{r.system}/{r.benchmark}/training/run_{r.run}"
    return f"{r.system}/{r.benchmark}/{r.scenario}/{r.precision}" + (f"/run_{r.run}" if r.run != 1 else "")


def sku_page(spec: ReportSpec, table: pd.DataFrame, summary: dict[str, Any], system: str,
             plots: dict[str, str]) -> str:
    sku = spec.systems[system]
    inf = table[(table.kind == "inference") & (table.system == system) & (table.run == 1)]  # the submitted runs
    tr = table[(table.kind == "training") & (table.system == system)]
    out = [_head(f"{system}: benchwright report"),
           f"<h1>{html.escape(sku.system_name)}</h1>",
           f"<p>SKU <code>{html.escape(system)}</code> · campaign <code>{html.escape(spec.campaign)}</code> · "
           f"{html.escape(spec.division)} division · {sku.accelerators_total} x {html.escape(sku.accelerator_model)}"
           f" · price {'n/a' if sku.price_per_hour_usd is None else f'{sku.price_per_hour_usd:g} USD/h'}</p>"]
    if spec.mode != "submission":
        out.append(f'<p class="smoke">Run mode <b>{html.escape(spec.mode)}</b>: short LoadGen runs that show the '
                   "pipeline works. These numbers are not MLPerf results.</p>")
    out += fixture_box(spec)
    out.append(failure_box(table, system))
    out.append(drift_box(table, system))
    stats_of = summary["systems"].get(system, {}).get("inference", {})
    if not inf.empty:
        out += ["<h2>Inference</h2><table><tr><th>benchmark</th><th>scenario</th><th>precision</th>"
                "<th>metric</th><th>result</th><th>validity</th><th>p99 latency</th><th>throughput</th>"
                "<th>energy per sample</th><th>cost per 1,000 queries</th><th>accuracy</th><th>target</th></tr>"]
        for r in inf.itertuples():
            key = f"{system}/{r.benchmark}/{r.scenario}/{r.precision}"
            energy = (_cell(f"{key}/energy_per_sample_j", r.energy_per_sample_j, NOT_MEASURED, "note")
                      if r.power_source == NOT_MEASURED else
                      _cell(f"{key}/energy_per_sample_j", r.energy_per_sample_j,
                            f"{r.energy_per_sample_j * 1e3:.4g} mJ ({r.power_source})"))
            acc_cls = "num" if r.accuracy_ok else "num bad"
            acc_ci = (stats_of.get(f"{r.benchmark}/{r.scenario}/{r.precision}") or {}).get("accuracy")
            acc_text = f"{_fmt(r.accuracy)} %" + (
                f" [{acc_ci['ci_low']:.2f}, {acc_ci['ci_high']:.2f}]" if acc_ci else "")
            mark = ' <span class="bad" title="drift: see above">(drift)</span>' if has_drift(getattr(r, "drift", "")) else ""
            out.append(
                f"<tr><td>{html.escape(r.benchmark)}{mark}</td><td>{r.scenario}</td><td>{r.precision}<sup>1</sup></td>"
                f"<td>{html.escape(str(r.metric))}</td>{_cell(f'{key}/value', r.value, _metric_text(r))}"
                f"{_cell(f'{key}/validity', r.validity, None, 'num' if r.validity == 'VALID' else 'num bad')}"
                f"{_cell(f'{key}/p99_ms', r.p99_ms, f'{_fmt(r.p99_ms)} ms')}"
                f"{_cell(f'{key}/samples_per_s', r.samples_per_s, f'{_fmt(r.samples_per_s)} samples/s')}"
                f"{energy}"
                f"{_cell(f'{key}/cost_per_1k_queries_usd', r.cost_per_1k_queries_usd, _usd(r.cost_per_1k_queries_usd))}"
                f"{_cell(f'{key}/accuracy', r.accuracy, acc_text, acc_cls)}"
                f"{_cell(f'{key}/accuracy_target', r.accuracy_target, f'{_fmt(r.accuracy_target)} %')}</tr>")
        out.append("</table>")
        out += accuracy_note(stats_of, spec.confidence)
    out += repeats_table(stats_of, system, spec.confidence)
    out += tiers_table(summary.get("tiers") or [], system)
    out += token_table(inf, system)
    stats = summary["systems"].get(system, {})
    if not tr.empty:
        out += ["<h2>Training</h2><table><tr><th>benchmark</th><th>runs</th><th>converged</th>"
                "<th>time to train (olympic mean)</th><th>mean</th><th>" + f"{spec.confidence:.0%}"
                + " bootstrap CI of the mean</th><th>std</th></tr>"]
        for bench, s in stats.get("training", {}).items():
            key = f"{system}/{bench}/training"
            interval = f"{_fmt(s['ci_low'])} – {_fmt(s['ci_high'])} min"
            out.append(
                f"<tr><td>{html.escape(bench)}</td>{_cell(f'{key}/n', s['n'])}{_cell(f'{key}/converged', s['converged'])}"
                f"{_cell(f'{key}/olympic_mean', s.get('olympic_mean'), _fmt(s.get('olympic_mean')) + ' min')}"
                f"{_cell(f'{key}/mean', s['mean'], _fmt(s['mean']) + ' min')}"
                f"{_cell(f'{key}/ci', None, interval)}"
                f"{_cell(f'{key}/std', s['std'], _fmt(s['std']) + ' min')}</tr>")
        out.append("</table>")
    score = stats.get("summary_score")
    out.append(f"<p>{html.escape(summary['summary_label'])}: "
               f"<span data-key=\"{system}/summary_score\" data-value=\"{'' if score is None or math.isnan(score) else repr(score)}\">"
               f"{_fmt(score)}</span></p>")
    out += scaling_table(summary.get("scaling") or [], system)
    for title, name in (("Latency distribution", "latency"), ("Server: throughput against latency", "server_ranging"),
                        ("Accuracy against reference", "accuracy"), ("Time to train", "time_to_train"),
                        ("Scaling efficiency", "scaling")):
        if name in plots:
            out.append(f"<h2>{title}</h2><img alt=\"{title}\" src=\"{html.escape(plots[name])}\">")
    out.append("<h2>Notes</h2><ol class=\"note\">")
    out.append("<li>Precision: fp32 runs the reference weights; int8 is post-training static quantization "
               "(per-tensor) calibrated on the benchmark's fixed calibration set"
               + "".join(f" — {html.escape(i.benchmark)}: {html.escape(i.calibration)}" for i in
                         {i.benchmark: i for i in spec.inference if i.system == system and i.calibration}.values())
               + ".</li>")
    batching = sorted({(r.scenario, r.batch_size, r.threads) for r in inf.itertuples()})
    out.append("<li>Batching: " + ", ".join(f"{s} batch {b} with {t} worker(s)" for s, b, t in batching) + ".</li>")
    out.append("<li>Energy per sample: integrated from RAPL/NVML energy counters over the LoadGen run where the "
               "machine has one; otherwise \"not measured\" (never estimated).</li>")
    out.append("<li>Cost per 1,000 queries: the SKU's price per hour over the queries served per hour in the run "
               "(MultiStream: 8 samples per query).</li>")
    if not _has_tokens(inf).empty:
        out.append("<li>Text generation: fp32 weights, greedy decoding; static batching (a batch of up to the "
                   "SKU's batch_size requests is decoded together until its last request ends); KV cache kept per "
                   "batch, in full, for its lifetime (no paging, no eviction, no prefix sharing). TTFT and TPOT are "
                   "LoadGen's (use_token_latencies); cost per 1,000 output tokens is the SKU's price per hour over "
                   "the output tokens generated per hour.</li>")
    notes = sorted({n for n in inf.notes.dropna() if n})
    out += [f"<li>{html.escape(n)}</li>" for n in notes]
    out.append("</ol></body></html>")
    return "\n".join(out)


def tiers_table(tiers: list[dict[str, Any]], system: str) -> list[str]:
    """The SKU's QPS, energy per query and cost within each SLO tier of the campaign."""
    rows = [t for t in tiers if t["system"] == system]
    if not rows:
        return []
    out = ["<h2 id=\"tiers\">SLO tiers</h2><table><tr><th>tier</th><th>limits</th><th>benchmark</th>"
           "<th>scenario</th><th>precision</th><th>QPS within the tier</th><th>energy per query</th>"
           "<th>cost per 1,000 queries</th><th>cost per 1,000 tokens</th><th>from</th></tr>"]
    for t in rows:
        key = f"{system}/{t['benchmark']}/{t['scenario']}/{t['precision']}/tier/{t['tier']}"
        energy = t.get("energy_per_query_j")
        energy_cell = (_cell(f"{key}/energy_per_query_j", None, NOT_MEASURED, "note") if energy is None else
                       _cell(f"{key}/energy_per_query_j", energy, f"{energy * 1e3:.4g} mJ ({t['energy_source']})"))
        qps = t.get("qps")
        out.append(f"<tr><td>{html.escape(t['tier'])}</td><td>{html.escape(t['limits'])}</td>"
                   f"<td>{html.escape(t['benchmark'])}</td><td>{t['scenario']}</td><td>{t['precision']}</td>"
                   f"{_cell(f'{key}/qps', qps, 'none VALID' if qps is None else f'{_fmt(qps)} QPS', 'num' if qps is not None else 'num bad')}"
                   f"{energy_cell}"
                   f"{_cell(f'{key}/cost_per_1k_queries_usd', t.get('cost_per_1k_queries_usd'), _usd(t.get('cost_per_1k_queries_usd')))}"
                   f"{_cell(f'{key}/cost_per_1k_tokens_usd', t.get('cost_per_1k_tokens_usd'), _usd(t.get('cost_per_1k_tokens_usd')))}"
                   f"<td class=\"note\">{html.escape(t['source'])} ({t['points_within']} of {t['points']} "
                   "measured points within)</td></tr>")
    out.append("</table><p class=\"note\">The highest completed QPS of a VALID Server/Interactive ranging trial or "
               "performance run whose latencies are all within the tier; energy per query only where that point "
               "is a performance run with an energy counter.</p>")
    return out


def scaling_table(scaling: list[dict[str, Any]], system: str) -> list[str]:
    """Throughput scaling and efficiency of the SKU against the SKU it scales (``scales:``)."""
    rows = [r for r in scaling if r["system"] == system]
    if not rows:
        return []
    out = [f"<h2 id=\"scaling\">Scaling against {html.escape(rows[0]['base'])}</h2><table><tr><th>benchmark</th>"
           "<th>scenario</th><th>precision</th><th>accelerators</th><th>this SKU</th><th>base</th><th>scaling</th>"
           "<th>efficiency</th></tr>"]
    for r in rows:
        key = f"{system}/{r['benchmark']}/{r['scenario']}/{r['precision']}/scaling"
        mine, base = f"{_fmt(r['value'])} {r['unit']}", f"{_fmt(r['base_value'])} {r['unit']}"
        out.append(f"<tr><td>{html.escape(r['benchmark'])}</td><td>{r['scenario']}</td><td>{r['precision']}</td>"
                   f"<td>{r['accelerators']} vs {r['base_accelerators']}</td>"
                   f"{_cell(f'{key}/value', r['value'], mine)}{_cell(f'{key}/base_value', r['base_value'], base)}"
                   f"{_cell(f'{key}/scaling', r['scaling'])}{_cell(f'{key}/efficiency', r['efficiency'])}</tr>")
    out.append("</table><p class=\"note\">Inference: throughput X(N) / X(base), efficiency X(N) / (k X(base)); "
               "training: speed-up T(base) / T(N) of the median time to train, efficiency T(base) / (k T(N)); "
               "k is the ratio of accelerator counts, and 1 is linear scaling.</p>")
    return out


def capacity_section(capacity: list[dict[str, Any]]) -> list[str]:
    """The procurement comparison: for each demand of the campaign, what each SKU needs and costs."""
    if not capacity:
        return []
    out = ["<h2 id=\"capacity\">Capacity: what each SKU needs for a demand</h2>"]
    for i, c in enumerate(capacity):
        d = c["demand"]
        per = "output tokens/s" if d["unit"] == "tokens" else "QPS"
        out.append(f"<p>{_fmt(d['demand'])} {per} at tier <b>{html.escape(d['tier'])}</b>, headroom "
                   f"x{d['headroom']:g}" + (f", {html.escape(d['benchmark'])}" if d.get("benchmark") else "")
                   + ": systems = ceil(demand x headroom / capacity of one system); a month is 730 hours.</p>")
        if not c["rows"]:
            out.append('<p class="note">No result of this campaign falls under the tier (it runs no Server or '
                       "Interactive scenario of a benchmark the tier applies to).</p>")
            continue
        out.append(f"<table><tr><th>SKU</th><th>benchmark</th><th>scenario</th><th>precision</th>"
                   f"<th>{per} per system</th><th>systems</th><th>nodes</th><th>USD per hour</th>"
                   "<th>USD per month</th></tr>")
        for r in c["rows"]:
            key = f"capacity/{i}/{r['system']}/{r['benchmark']}/{r['scenario']}/{r['precision']}"
            out.append(f"<tr><td>{html.escape(r['system'])}</td><td>{html.escape(r['benchmark'])}</td>"
                       f"<td>{r['scenario']}</td><td>{r['precision']}</td>"
                       f"{_cell(f'{key}/capacity_per_system', r.get('capacity_per_system'))}"
                       f"{_cell(f'{key}/systems', r.get('systems'), None if r.get('systems') is not None else r['note'])}"
                       f"{_cell(f'{key}/nodes', r.get('nodes'))}"
                       f"{_cell(f'{key}/usd_per_hour', r.get('usd_per_hour'), _dollars(r.get('usd_per_hour')))}"
                       f"{_cell(f'{key}/usd_per_month', r.get('usd_per_month'), _dollars(r.get('usd_per_month')))}</tr>")
        out.append("</table>")
    return out


def status_section(table: pd.DataFrame) -> list[str]:
    """The status table (status.csv) on the comparison page: each result's AccuracyMode and PerformanceMode."""
    from .table import status_table

    status = status_table(table)
    if status.empty:
        return []
    out = ['<h2 id="status">Status</h2><p class="note">As status.csv / status.json: AccuracyMode 1 = PASS, '
           "PerformanceMode 1 = VALID (the submitted run; min / max / average over the repeats).</p>"
           "<table><tr><th>result</th><th>AccuracyMode</th><th>PerformanceMode</th><th>min</th><th>max</th>"
           "<th>avg</th><th>runs</th><th>status</th><th>reason</th></tr>"]
    for r in status.itertuples():
        key = r.result
        cls = "num" if r.status == "PASS" else "num bad"
        out.append(f"<tr><td><code>{html.escape(key)}</code></td>{_cell(f'{key}/AccuracyMode', r.AccuracyMode)}"
                   f"{_cell(f'{key}/PerformanceMode', r.PerformanceMode)}"
                   f"{_cell(f'{key}/PerformanceMode_min', r.PerformanceMode_min)}"
                   f"{_cell(f'{key}/PerformanceMode_max', r.PerformanceMode_max)}"
                   f"{_cell(f'{key}/PerformanceMode_avg', r.PerformanceMode_avg)}{_cell(f'{key}/runs', r.runs)}"
                   f"{_cell(f'{key}/status', r.status, None, cls)}<td>{html.escape(r.reason)}</td></tr>")
    out.append("</table>")
    return out


def accuracy_note(stats_of: dict[str, Any], confidence: float) -> list[str]:
    """How sure the accuracies are: each interval comes from its sample count alone (Wilson score)."""
    sized = {k: v["accuracy"] for k, v in stats_of.items() if v.get("accuracy")}
    if not sized:
        return []
    first = next(iter(sized.values()))
    return [f'<p class="note">Accuracy intervals: {confidence:.0%} Wilson score intervals from the number of '
            f"samples scored ({first['samples']:,} here); the same run repeated on new samples would land in them. "
            f"At this accuracy a 1-point drop needs about {_fmt(first['samples_for_1_point'])} samples to show "
            "(the sample count whose interval is ±1 point).</p>"]


def repeats_table(stats_of: dict[str, Any], system: str, confidence: float) -> list[str]:
    """Each result's repeated performance runs: the VALID rate and, for its MLPerf metric, the median, its
    bootstrap interval and the coefficient of variation (flagged noisy over 5 %)."""
    repeated = {k: v for k, v in stats_of.items() if v["runs"] > 1}
    if not repeated:
        return []
    out = [f"<h2>Repeated runs</h2><table><tr><th>benchmark</th><th>scenario</th><th>precision</th><th>runs</th>"
           f"<th>VALID</th><th>median</th><th>{confidence:.0%} bootstrap CI of the median</th><th>CV</th></tr>"]
    for name, st in repeated.items():
        bench, scen, prec = name.split("/")
        key = f"{system}/{name}"
        m = st["metrics"]["value"]
        scale, unit = (1e-6, "ms") if policy(scen).metric.is_latency else (1, "samples/s")
        valid = st["valid_rate"]
        median = f"{_fmt(m['median'] * scale)} {unit}"
        interval = f"{_fmt(m['ci_low'] * scale)} – {_fmt(m['ci_high'] * scale)} {unit}"
        noisy = ' <span class="bad">noisy</span>' if st["noisy"] else ""
        out.append(
            f"<tr><td>{html.escape(bench)}</td><td>{scen}</td><td>{prec}</td>{_cell(f'{key}/runs', st['runs'])}"
            f"{_cell(f'{key}/valid_rate', valid, f'{valid:.0%}', 'num' if valid == 1 else 'num bad')}"
            f"{_cell(f'{key}/median', m['median'], median)}{_cell(f'{key}/ci', None, interval)}"
            f'<td class="num" data-key="{html.escape(key)}/cv" data-value="{m["cv"]!r}">{_pct(m["cv"])}{noisy}</td>'
            "</tr>")
    out.append("</table><p class=\"note\">Run 1 is the run a bundle submits; the others are kept beside it "
               "(repeats/run_&lt;i&gt;). A coefficient of variation over 5 % marks the result noisy: compare it "
               "with care.</p>")
    return out


def _pct(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1%}"


def _has_tokens(rows: pd.DataFrame) -> pd.DataFrame:
    if "tokens_per_s" not in rows:  # a table written before benchwright measured tokens
        return rows.iloc[0:0]
    return rows[rows.tokens_per_s.notna()]


def token_table(inf: pd.DataFrame, system: str) -> list[str]:
    """The LLM runs' token metrics: TTFT and TPOT percentiles, tokens per second, $ per 1,000 output tokens."""
    rows = _has_tokens(inf)
    if rows.empty:
        return []
    out = ["<h2>Text generation: token latencies</h2><table><tr><th>benchmark</th><th>scenario</th>"
           "<th>precision</th><th>TTFT p50</th><th>TTFT p99</th><th>TPOT p50</th><th>TPOT p99</th>"
           "<th>output tokens/s</th><th>cost per 1,000 output tokens</th></tr>"]
    for r in rows.itertuples():
        key = f"{system}/{r.benchmark}/{r.scenario}/{r.precision}"
        cells = "".join(_cell(f"{key}/{c}", getattr(r, c), f"{_fmt(getattr(r, c))} ms")
                        for c in ("ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms"))
        out.append(f"<tr><td>{html.escape(r.benchmark)}</td><td>{r.scenario}</td><td>{r.precision}</td>{cells}"
                   f"{_cell(f'{key}/tokens_per_s', r.tokens_per_s, f'{_fmt(r.tokens_per_s)} tokens/s')}"
                   f"{_cell(f'{key}/cost_per_1k_tokens_usd', r.cost_per_1k_tokens_usd, _usd(r.cost_per_1k_tokens_usd))}"
                   "</tr>")
    out.append("</table><p class=\"note\">Offline has no per-token latencies (one query of every sample); "
               "Interactive is LoadGen's Server under the model's tighter TTFT/TPOT limits.</p>")
    return out


def _dollars(value: float | None) -> str:
    """An amount to pay (per hour, per month): cents, thousands separated."""
    return "n/a" if value is None or math.isnan(value) else f"{value:,.2f} USD"


def _usd(value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:.3g} USD"


def fixture_box(spec: ReportSpec) -> list[str]:
    """The label of benchmarks run on `benchwright fixture` stand-ins (generated data, a random-weight model)."""
    if not spec.fixtures:
        return []
    names = ", ".join(f"<code>{html.escape(n)}</code>" for n in spec.fixtures)
    return [f'<p class="smoke"><b>Fixture run</b> of {names}: generated stand-in data and a random-weight model '
            "made by <code>benchwright fixture</code>, not the benchmark's dataset and model. The numbers show that "
            "the pipeline works and say nothing about the hardware; never submittable.</p>"]


def index_page(spec: ReportSpec, table: pd.DataFrame, summary: dict[str, Any], comparison: str = "") -> str:
    """The SKUs side by side; ``comparison`` is the section comparing the campaign with its baseline (if any)."""
    systems = list(spec.systems)
    out = [_head(f"{spec.campaign}: SKU comparison"), f"<h1>Campaign <code>{html.escape(spec.campaign)}</code>: "
           "SKUs compared</h1>"]
    if spec.mode != "submission":
        out.append(f'<p class="smoke">Run mode <b>{html.escape(spec.mode)}</b>: not MLPerf results.</p>')
    out += fixture_box(spec)
    out.append(failure_box(table))
    out.append(drift_box(table))
    out.append("<table><tr><th>benchmark</th><th>scenario</th><th>precision</th>"
               + "".join(f"<th><a href=\"{html.escape(s)}.html\">{html.escape(s)}</a></th>" for s in systems)
               + "</tr>")
    inf = table[(table.kind == "inference") & (table.run == 1)]  # the submitted runs
    for (bench, scen, prec), rows in inf.groupby(["benchmark", "scenario", "precision"], sort=False):
        cells = []
        for s in systems:
            r = rows[rows.system == s]
            if r.empty:
                cells.append("<td>—</td>")
            else:
                row = next(r.itertuples())
                text = _metric_text(row)
                tokens = getattr(row, "tokens_per_s", math.nan)
                if isinstance(tokens, float) and not math.isnan(tokens):
                    text += (f"; {_fmt(tokens)} tokens/s" + (f", TTFT p99 {_fmt(row.ttft_p99_ms)} ms, TPOT p99 "
                                                              f"{_fmt(row.tpot_p99_ms)} ms"
                                                              if not math.isnan(row.ttft_p99_ms) else ""))
                cells.append(_cell(f"{s}/{bench}/{scen}/{prec}/value", row.value, text))
        out.append(f"<tr><td>{html.escape(bench)}</td><td>{scen}</td><td>{prec}</td>{''.join(cells)}</tr>")
    out.append("<tr><th colspan=\"3\">" + html.escape(summary["summary_label"]) + "</th>"
               + "".join(_cell(f"{s}/summary_score", summary["systems"][s]["summary_score"]) for s in systems)
               + "</tr></table>")
    out += status_section(table)
    out += capacity_section(summary.get("capacity") or [])
    if comparison:
        out.append(comparison)
    out.append("</body></html>")
    return "\n".join(out)

