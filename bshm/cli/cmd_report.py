"""``bshm report RESULTS``: a self-contained HTML report of a station."""

from __future__ import annotations

import argparse

NAME = "report"
GROUP = None
HELP = "self-contained HTML report (alarms, health, frequencies, strain, fatigue)"
DESCRIPTION = """Write one HTML file that a bridge owner can read in any browser,
without bshm: station and sensors, data availability and channel health,
tracked natural frequencies against temperature, damage indices against
their limits, the alarms table, strain statistics, fatigue histograms,
cumulative damage and remaining life, each with a plain-language
explanation. Figures are inline SVG; the file has no external references
and no JavaScript.

RESULTS is the results file written by 'bshm analyze'
(<data_dir>/results/<station>_results.h5) or the data folder holding it.
The raw files next to it (the folder above results/) are read for the
sensor list, data availability, channel health and strain statistics;
--raw names another folder.

--from/--to limit the period (ISO 8601 UTC, e.g. 2026-01-01 or
2026-01-01T06:00); the default is everything in the results.

--pdf also prints the same page to PDF (A4) next to the HTML file
(report.html -> report.pdf), with WeasyPrint: pip install -e ".[report]"."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bshm report``."""
    parser.add_argument("results", metavar="RESULTS", help="results file or data folder")
    parser.add_argument(
        "--out", "-o", default="report.html", help="output HTML file (default: report.html)"
    )
    parser.add_argument(
        "--from", dest="start", metavar="TIME", help="start of the period (ISO 8601 UTC)"
    )
    parser.add_argument(
        "--to", dest="end", metavar="TIME", help="end of the period, exclusive (ISO 8601 UTC)"
    )
    parser.add_argument(
        "--raw", metavar="DIR", help="raw data folder (default: the folder above results/)"
    )
    parser.add_argument(
        "--pdf",
        nargs="?",
        const="",
        metavar="FILE",
        help="also write a PDF (default: the --out name with .pdf); needs the 'report' extra",
    )


def run(args: argparse.Namespace) -> int:
    """Write the report and print its path."""
    from bshm.analysis.report import write_report
    from bshm.errors import ConfigError
    from bshm.timeutil import parse_time

    times: dict[str, int | None] = {}
    for key, text in (("--from", args.start), ("--to", args.end)):
        if text is None:
            times[key] = None
            continue
        try:
            times[key] = parse_time(text)
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
    if (
        times["--from"] is not None
        and times["--to"] is not None
        and times["--to"] <= times["--from"]
    ):
        raise ConfigError("--to must be after --from")
    if args.pdf is not None:  # fail before the work when the PDF cannot be made
        try:
            import weasyprint  # noqa: F401
        except (ImportError, OSError):
            from bshm.analysis.report import write_pdf

            write_pdf(args.out, args.pdf or "report.pdf")  # raises the one-line hint
    out = write_report(
        args.results, args.out, start_ns=times["--from"], end_ns=times["--to"], raw_dir=args.raw
    )
    print(out)
    if args.pdf is not None:
        from pathlib import Path

        from bshm.analysis.report import write_pdf

        pdf = Path(args.pdf) if args.pdf else Path(out).with_suffix(".pdf")
        print(write_pdf(out, pdf))
    return 0
