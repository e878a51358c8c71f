"""Run benchwright's speed measurements and write the results table.

    python benchmarks/run.py [--quick | --full] [--only NAME ...] [--out benchmarks/results] [--keep-logs]

Every measurement compares a variant with a baseline run on this machine in this invocation, each repeated
(quick: 3, full: 5) and interleaved; the table gives min / median / max, the ratio of the medians and whether the
target on the ratio is met. Measurements live in ``benchmarks/bench_*.py`` (see ``common.py``). Every LoadGen run
has a fresh process of its own. Results: ``results.md``, ``results.csv`` and ``runs.json`` (every single run and
bisection trial) in --out. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    measurements = common.discover()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="measurements:\n" + "\n".join(f"  {m.name}: {m.description}"
                                                                         for m in measurements.values()))
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="3 repeats, short runs (the default; a few minutes on 2 cores)")
    size.add_argument("--full", dest="mode", action="store_const", const="full", help="5 repeats, longer runs")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=sorted(measurements),
                        help="run only these measurements")
    parser.add_argument("--repeats", type=int, help="override the mode's number of repeats")
    parser.add_argument("--out", type=Path, default=common.BENCH_DIR / "results",
                        help="folder for results.md, results.csv and runs.json (default: benchmarks/results)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep every LoadGen log (under --out/logs) instead of a deleted scratch folder")
    parser.add_argument("--max-wait", type=float, default=common.QUIET["max_wait_s"], metavar="SECONDS",
                        help="before each run, wait up to this long for other processes' CPU use to drop below "
                             f"{common.QUIET['threshold']:.0%}% of the machine (default %(default)g; 0: never wait); "
                             "the waits of one invocation add up to at most 20 s (quick) or 600 s (full)")
    parser.add_argument("--campaign-dir", type=Path, metavar="DIR",
                        help="a working directory holding a finished default campaign: end_to_end reads its log "
                             "instead of running the campaign (in any mode), planning times its no-op re-run")
    parser.add_argument("--end-to-end", action="store_true",
                        help="in quick mode, run the default campaign for end_to_end (about 4 minutes; --full "
                             "runs it unless --campaign-dir is given)")
    parser.set_defaults(mode="quick")
    args = parser.parse_args(argv)

    common.QUIET["max_wait_s"] = args.max_wait
    settings = dict(common.MODES[args.mode])
    common.QUIET["budget_s"] = settings["quiet_budget_s"]
    if args.repeats:
        settings["repeats"] = args.repeats
    settings["campaign_dir"] = str(args.campaign_dir.resolve()) if args.campaign_dir else None
    settings["end_to_end"] = args.end_to_end
    out = args.out.resolve()
    work = out / "logs" if args.keep_logs else Path(tempfile.mkdtemp(prefix="benchwright-bench-"))
    if args.keep_logs and work.exists():
        shutil.rmtree(work)
    ctx = common.Context(mode=args.mode, repeats=settings["repeats"], out_dir=out, work_dir=work, settings=settings)
    facts = common.machine_facts()
    print(common.machine_line(facts), file=sys.stderr, flush=True)

    selected = [m for m in measurements.values() if not args.only or m.name in args.only]
    rows: list[common.Row] = []
    failures: dict[str, str] = {}
    start = time.monotonic()
    try:
        for m in selected:
            ctx.current = m.name
            began = time.monotonic()
            ctx.emit(f"started ({ctx.repeats} repeats, mode {args.mode})")
            try:
                produced = m.func(ctx)
            except Exception as exc:  # noqa: BLE001 - one broken measurement must not lose the others' results
                traceback.print_exc()
                failures[m.name] = repr(exc).splitlines()[0][:300]
                continue
            rows.extend(produced)
            ctx.emit(f"finished in {time.monotonic() - began:.0f} s")
            for row in produced:
                cells = dict(zip(common.COLUMNS, common.row_cells(row)))
                ctx.emit(f"  {row.variant} / {row.metric}: median {cells['median']} {row.unit}, ratio {cells['ratio']}"
                         f" ({cells['target']}: {cells['met']})")
    finally:
        if not args.keep_logs:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.monotonic() - start
    csv_path, md_path = common.write_results(rows, out, facts, ctx, failures, elapsed)
    print(md_path.read_text())
    print(f"wrote {md_path}, {csv_path} and {out / 'runs.json'} in {elapsed:.0f} s", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
