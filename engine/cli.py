"""`rulesctl`: check a year of rules and score QPP submissions from the command line.

Heavy imports happen inside the commands so that `rulesctl --help` stays fast.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Score Medicare MIPS submissions with rules kept as data, one folder per program year.")

RulesOption = typer.Option(None, "--rules", help="A rules root holding year folders, or one year folder "
                                                 "(an analyst's draft). Default: the bundled rules/.")


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _fail(exc: Exception, code: int = 1) -> None:
    from dsl.errors import RulesError

    text = exc.render() if isinstance(exc, RulesError) else str(exc)
    typer.echo(text, err=True)
    raise typer.Exit(code)


@app.command()
def check(year: Optional[str] = typer.Argument(None, help="The year to check (default: every year)."),
          rules: Optional[Path] = RulesOption) -> None:
    """Load, check and compile a year's rules; exit non-zero on any error."""
    from dsl.errors import RulesError
    from engine.year import default_rules_root, load_year, resolve_year_folder, year_folders

    root = rules if rules is not None else default_rules_root()
    try:
        targets = year_folders(root) if year is None else [resolve_year_folder(year, root)]
    except RulesError as exc:
        _fail(exc)
        return
    failed = False
    for target in targets:
        try:
            loaded = load_year(None, target)
        except RulesError as exc:
            typer.echo(exc.render(), err=True)
            typer.echo(f"{target}: FAILED ({len(exc.diagnostics)} problem(s))", err=True)
            failed = True
            continue
        for w in loaded.warnings:
            typer.echo(w.render(), err=True)
        items = len(loaded.data.all_items())
        typer.echo(f"{loaded.performance_year} ({target}): ok — {len(loaded.definitions)} definitions, "
                   f"{items} data items, loaded in {loaded.load_seconds * 1000:.0f} ms"
                   + (f", {len(loaded.warnings)} warning(s)" if loaded.warnings else ""))
    if failed:
        raise typer.Exit(1)


@app.command()
def score(submission: Path = typer.Argument(..., help="A QPP JSON submission."),
          context: Optional[Path] = typer.Option(None, "--context", "-c", help="The scoring context (YAML or JSON)."),
          year: Optional[int] = typer.Option(None, "--year", "-y", help="Performance year (default: from the inputs)."),
          rules: Optional[Path] = RulesOption,
          format: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="table, json or markdown."),
          reference: Optional[Path] = typer.Option(None, "--reference", help="Imported reference data folder "
                                                   "(default: $MIPS_REFERENCE_DIR or ~/.local/share/mips-rules/reference).")) -> None:
    """Score one submission and print its report."""
    from dsl.errors import RulesError
    from engine.context import load_context, resolve_performance_year
    from engine.render import print_table, to_json, to_markdown
    from engine.scoring import score as score_submission
    from engine.submission import load_submission
    from engine.year import load_year

    try:
        sub = load_submission(submission)
        ctx = load_context(context)
        py = resolve_performance_year(sub, ctx, submission_source=str(submission),
                                      context_source=str(context or "<context>"), requested=year)
        loaded = load_year(py, rules, reference=reference)
        report = score_submission(loaded, sub, ctx).report
    except RulesError as exc:
        _fail(exc)
        return
    if format is ReportFormat.json:
        sys.stdout.write(to_json(report))
    elif format is ReportFormat.markdown:
        sys.stdout.write(to_markdown(report))
    else:
        from rich.console import Console

        print_table(report, Console())


@app.command()
def attribute(reports: list[Path] = typer.Argument(..., help="JSON reports (rulesctl score --format json) of one "
                                                            "TIN/NPI's participations."),
              rules: Optional[Path] = RulesOption,
              format: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="table, json or markdown.")) -> None:
    """Choose the score that sets a clinician's payment adjustment among several participations."""
    from dsl.errors import RulesError
    from engine.attribution import attribute as choose, load_report
    from engine.render import to_json
    from engine.year import load_year

    try:
        loaded_reports = [load_report(p) for p in reports]
        year = load_year(int(loaded_reports[0]["performance_year"]), rules)
        index, reason = choose(year, loaded_reports)
    except RulesError as exc:
        _fail(exc)
        return
    chosen = loaded_reports[index]
    if format is ReportFormat.json:
        sys.stdout.write(to_json({"chosen": str(reports[index]), "index": index, "reason": reason,
                                  "entity": chosen["entity"], "final_score": chosen["final_score"],
                                  "payment_adjustment": chosen.get("payment_adjustment")}))
    else:
        typer.echo(f"{reports[index]}: {chosen['entity']['type']}, final score {chosen['final_score']} — {reason}")


data_app = typer.Typer(no_args_is_help=True, help="Reference data from CMS's published files.")
app.add_typer(data_app, name="data")


@data_app.command("import")
def data_import(year: int = typer.Argument(..., help="The performance year the files are for."),
                path: Path = typer.Argument(..., help="A folder with CMS's measures-data.json and benchmarks.json "
                                                      "(or benchmarks.csv), as in CMS's qpp-measures-data."),
                to: Optional[Path] = typer.Option(None, "--to", help="Where to store it (default: "
                                                  "$MIPS_REFERENCE_DIR or ~/.local/share/mips-rules/reference).")) -> None:
    """Import a year's measure inventory and benchmarks; nothing is written if any row is bad."""
    from dsl.errors import RulesError
    from engine.refdata import import_reference

    try:
        result, stored = import_reference(year, path, to)
    except RulesError as exc:
        _fail(exc)
        return
    if stored is None:
        for d in result.problems[:50]:
            typer.echo(d.render(), err=True)
        more = len(result.problems) - 50
        typer.echo(f"{len(result.problems)} problem(s){f' ({more} more not shown)' if more > 0 else ''}; "
                   "nothing was imported", err=True)
        raise typer.Exit(1)
    for name, n in result.counts().items():
        typer.echo(f"{name}: {n} rows")
    typer.echo(f"imported {year} reference data into {stored}")


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
