"""`rulesctl`: check a year of rules and score QPP submissions from the command line.

Heavy imports happen inside the commands so that `rulesctl --help` stays fast.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Score Medicare MIPS submissions with rules kept as data, one folder per program year.")

def _version(value: bool) -> None:
    """`--version`: the installed version and the program years its bundled rules hold."""
    if not value:
        return
    from mips_rules import __version__
    from mips_rules.engine.years.loader import available_years, default_rules_root

    root = default_rules_root()
    typer.echo(f"rulesctl {__version__} (mips-rules); years: {', '.join(available_years(root)) or 'none'} "
               f"in {root}")
    raise typer.Exit(0)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="Print the version and the years of the bundled rules.")) -> None:
    """Score Medicare MIPS submissions with rules kept as data, one folder per program year."""


RulesOption = typer.Option(None, "--rules", help="A rules root holding year folders, or one year folder "
                                                 "(an analyst's draft). Default: the bundled rules/.")


class ReportFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


def _load_rules_arg(arg: str, rules: Optional[Path]):
    """A year (looked up under --rules) or a rules folder (an analyst's draft)."""
    from mips_rules.engine.years.loader import load_year

    path = Path(arg)
    if not arg.isdigit() and path.exists():
        return load_year(None, path)
    return load_year(arg, rules)


def _fail(exc: Exception, code: int = 1) -> None:
    """Print an error on stderr and exit non-zero (an OutputError carries its own exit code)."""
    from mips_rules.dsl.errors import RulesError

    text = exc.render() if isinstance(exc, RulesError) else str(exc)
    code = max(code, getattr(exc, "exit_code", 0) or 0)  # diff's errors stay 2 (1 means "they differ")
    try:
        typer.echo(text, err=True)
    except OSError:
        pass  # stderr itself is gone: the exit code still says it
    raise typer.Exit(code)


@contextmanager
def _stdout(code: int = 1) -> Iterator[None]:
    """Print to standard output; a closed pipe or a full disk is an error message and exit `code`."""
    from mips_rules.engine.cli.outputs import OutputError, stdout_guard

    try:
        with stdout_guard():
            yield
    except OutputError as exc:
        _fail(exc, code)


@app.command()
def check(year: Optional[str] = typer.Argument(None, help="The year to check (default: every year)."),
          rules: Optional[Path] = RulesOption) -> None:
    """Load, check and compile a year's rules; exit non-zero on any error."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.years.loader import default_rules_root, load_year, resolve_year_folder, year_folders

    root = rules if rules is not None else default_rules_root()
    try:
        targets = year_folders(root) if year is None else [resolve_year_folder(year, root)]
    except RulesError as exc:
        _fail(exc)
        return
    failed = False
    with _stdout():
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
            typer.echo(f"  fingerprint {loaded.fingerprint}")
    if failed:
        raise typer.Exit(1)


@app.command()
def score(submission: Path = typer.Argument(..., help="A QPP JSON submission, or a QRDA Category III document "
                                                        "(*.xml, or a file whose first character is `<`)."),
          context: Optional[Path] = typer.Option(None, "--context", "-c", help="The scoring context (YAML or JSON)."),
          year: Optional[int] = typer.Option(None, "--year", "-y", help="Performance year (default: from the inputs)."),
          rules: Optional[Path] = RulesOption,
          format: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="table, json or markdown."),
          explain: Optional[str] = typer.Option(None, "--explain",
                                                help="Show how a value was computed: `--explain` for the final score, "
                                                     "`--explain NAME` for one rule or report path "
                                                     "(categories.quality.points, quality.measures.236.points, weight)."),
          output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to a file "
                                                "(written whole, or not at all).")) -> None:
    """Score one submission and print its report."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.inputs.context import read_context, resolve_performance_year
    from mips_rules.engine.scoring.render import print_table, to_json, to_markdown
    from mips_rules.engine.scoring.score import score as score_submission
    from mips_rules.engine.inputs.submission import load_submission
    from mips_rules.engine.cli.outputs import check_output
    from mips_rules.engine.years.loader import load_year

    inputs = (submission, context)
    try:
        if output is not None:
            check_output(output, inputs)  # refuse a bad -o before any work
        qrda = None
        from mips_rules.engine.inputs.qrda_detect import is_qrda_file

        if is_qrda_file(submission):  # QRDA III: its eCQM UUIDs need the year's data, so the year comes first
            from mips_rules.engine.inputs.qrda import read_qrda_file, year_stand_in

            qrda = read_qrda_file(submission)
            sub = year_stand_in(qrda)
        else:
            sub = load_submission(submission)
        ctx = read_context(context)  # checked by the scoring year's declared context
        py = resolve_performance_year(sub, ctx, submission_source=str(submission),
                                      context_source=str(context or "<context>"), requested=year)
        loaded = load_year(py, rules)
        if qrda is not None:
            sub = qrda.submission(loaded)
            sub.validate_year(py, source=str(submission))
        scored = score_submission(loaded, sub, ctx, trace=explain is not None)
        report = scored.report
        explanation = _explanation(loaded, scored, explain) if explain is not None else None
    except RulesError as exc:
        _fail(exc)
        return
    if format is ReportFormat.json:
        if explanation is not None:
            from mips_rules.engine.scoring.explain import as_json

            report = {**report, "explanation": as_json(loaded, explanation)}
        text = to_json(report)
    elif format is ReportFormat.markdown:
        text = to_markdown(report, loaded.report_layout)
        if explanation is not None:
            from mips_rules.engine.scoring.explain import as_text

            text += "\n## How it was computed\n\n```\n" + as_text(loaded, explanation) + "```\n"
    elif format is ReportFormat.html:
        from mips_rules.engine.scoring.html_report import report_html

        text = report_html(loaded, report, explanation)
    else:
        import io

        from rich.console import Console

        def table(console: Console) -> None:
            print_table(report, loaded.report_layout, console)
            if explanation is not None:
                from mips_rules.engine.scoring.explain import as_text

                console.print(as_text(loaded, explanation), markup=False, highlight=False)

        if output is None:
            from mips_rules.engine.cli.outputs import stdout_console

            with _stdout():
                table(stdout_console())
            return
        buffer = io.StringIO()
        table(Console(file=buffer))
        text = buffer.getvalue()
    _emit(text, output, inputs)


@app.command()
def attribute(reports: list[Path] = typer.Argument(..., help="JSON reports (rulesctl score --format json) of one "
                                                            "TIN/NPI's participations."),
              rules: Optional[Path] = RulesOption,
              format: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f", help="table, json or markdown.")) -> None:
    """Choose the score that sets a clinician's payment adjustment among several participations."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.scoring.attribution import attribute as choose, load_report
    from mips_rules.engine.scoring.render import to_json
    from mips_rules.engine.years.loader import load_year

    try:
        loaded_reports = [load_report(p) for p in reports]
        year = load_year(int(loaded_reports[0]["performance_year"]), rules)
        index, reason = choose(year, loaded_reports)
    except RulesError as exc:
        _fail(exc)
        return
    chosen = loaded_reports[index]
    with _stdout():
        if format is ReportFormat.json:
            sys.stdout.write(to_json({"chosen": str(reports[index]), "index": index, "reason": reason,
                                      "report": chosen}))
        else:
            from mips_rules.engine.scoring import display

            path = year.report_layout.figures["final_score"]
            typer.echo(f"{reports[index]}: {path.replace('_', ' ')} {display.at(chosen, path)} — {reason}")


@app.command()
def diff(old: str = typer.Argument(..., help="A year (e.g. the earlier one) or a rules folder (./draft/YEAR)."),
         new: str = typer.Argument(..., help="A year or a rules folder."),
         rules: Optional[Path] = RulesOption,
         only: Optional[str] = typer.Option(None, "--only", help="Only changes whose rule path starts with this."),
         format: ReportFormat = typer.Option(ReportFormat.table, "--format", "-f",
                                             help="table, json, markdown or html.")) -> None:
    """What changed between two years (or drafts) of rules. Exit 0: same; 1: different; 2: error."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.workbench.diff import diff_years
    from mips_rules.engine.workbench.diff_render import print_table as print_diff, to_html, to_json_text, to_markdown as diff_md

    try:
        a, b = _load_rules_arg(old, rules), _load_rules_arg(new, rules)
        result = diff_years(a, b, old, new, only=only)  # an --only that matches nothing is an error
    except RulesError as exc:
        _fail(exc, 2)
        return
    with _stdout(2):  # 1 means "they differ": an error is 2
        if format is ReportFormat.json:
            sys.stdout.write(to_json_text(result))
        elif format is ReportFormat.markdown:
            sys.stdout.write(diff_md(result))
        elif format is ReportFormat.html:
            sys.stdout.write(to_html(result))
        else:
            from mips_rules.engine.cli.outputs import stdout_console

            print_diff(result, stdout_console())
    raise typer.Exit(0 if result.same else 1)


@app.command("new-year")
def new_year_command(year: int = typer.Argument(..., help="The year to create (or, with --review, to review)."),
                     source: Optional[int] = typer.Option(None, "--from", help="The year to copy."),
                     rules: Optional[Path] = RulesOption,
                     review: bool = typer.Option(False, "--review", help="List what is left to review in a year "
                                                 "made by new-year (it need not load yet); exit 1 if anything is.")
                     ) -> None:
    """Start a year as a copy of another, every value marked as carried over until reviewed; list what
    else to review (old-year citations, reference fields that changed, rule tests of another year)."""
    from mips_rules.dsl.errors import Diagnostic, RulesError
    from mips_rules.engine.workbench.new_year import MARKER, new_year, read_marker, review_folder, rule_test_notes
    from mips_rules.engine.years.loader import default_rules_root, resolve_year_folder

    root = rules if rules is not None else default_rules_root()
    try:
        if review:
            dest = resolve_year_folder(year, root)
            marker = read_marker(dest)
            if marker is None:
                raise RulesError(Diagnostic(f"{dest} has no {MARKER}: it was not made by `rulesctl new-year`, "
                                            "or its review is done"))
            source = marker["from"]
        elif source is None:
            raise RulesError(Diagnostic("give the year to copy: --from YEAR (or --review to review a copy)"))
        else:
            dest = new_year(root, year, source)
            with _stdout():
                typer.echo(f"created {dest}, which extends {source}: add to it only what changes (an item or "
                           f"definition there replaces the inherited one); `rulesctl show PATH --year {year}` says "
                           f"where a value comes from, `rulesctl diff {source} {year}` shows what you changed")
    except RulesError as exc:
        _fail(exc)
        return
    notes = [w.message for w in review_folder(dest)] + rule_test_notes(dest, year)
    with _stdout():
        if notes:
            typer.echo(f"{'to' if review else 'also to'} review in {year} (copied from {source}; {MARKER} in the "
                       "folder records what it was copied from: delete it when the review is done):")
            for note in notes:
                typer.echo(f"  - {note}")
        elif review:
            typer.echo(f"{year}: nothing left to review from {source}; delete {dest / MARKER}")
    if review and notes:
        raise typer.Exit(1)


@app.command()
def show(path: Optional[str] = typer.Argument(None, help="A data path (quality.case_minimum), a table "
                                                         "(weights.redistribution) or a rule name (final_score)."),
         year: Optional[int] = typer.Option(None, "--year", "-y", help="The year (default: the latest)."),
         rules: Optional[Path] = RulesOption,
         unconfirmed: bool = typer.Option(False, "--unconfirmed", help="List every value and rule still "
                                                                       "marked unconfirmed.")) -> None:
    """Show one value, table or rule with its source, unit and confirmation."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.workbench.show import describe, unconfirmed_items
    from mips_rules.engine.years.loader import available_years, default_rules_root, load_year

    try:
        root = rules if rules is not None else default_rules_root()
        chosen = year if year is not None else (available_years(root) or [None])[-1]
        loaded = load_year(chosen, rules)
        if unconfirmed:
            text = unconfirmed_items(loaded)
        elif not path:
            raise RulesError("give a PATH or --unconfirmed")
        else:
            text = describe(loaded, path)
        with _stdout():
            typer.echo(text)
    except RulesError as exc:
        _fail(exc)


@app.command("test")
def test_command(target: Optional[str] = typer.Argument(None, help="A year, a rules folder, or a test file "
                                                                  "(default: every year's tests)."),
                 rules: Optional[Path] = RulesOption) -> None:
    """Run the rule tests (YAML cases in rules/<year>/tests/); exit 1 if any fails."""
    from rich.table import Table

    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.workbench.diff import value_text
    from mips_rules.engine.workbench.rule_tests import run_files, test_files
    from mips_rules.engine.years.loader import default_rules_root, resolve_year_folder, year_folders

    try:
        root = rules if rules is not None else default_rules_root()
        if target is None:
            folders = year_folders(root)
        elif Path(target).exists() and not target.isdigit():
            folders = [Path(target)]
        else:
            folders = [resolve_year_folder(target, root)]
    except RulesError as exc:
        _fail(exc)
        return
    from rich.markup import escape
    from rich.text import Text

    from mips_rules.engine.cli.outputs import stdout_console

    files = [f for folder in folders for f in test_files(folder)]
    results = run_files(files, rules)
    console = stdout_console()
    with _stdout():
        for r in results:
            short = escape(Path(r.file).parent.parent.name + "/" + Path(r.file).name)
            if r.ok:
                console.print(f"[green]pass[/green]  {short}  {escape(r.name)}", highlight=False, soft_wrap=True)
                continue
            console.print(f"[red]FAIL[/red]  {short}  {escape(r.name)}", highlight=False, soft_wrap=True)
            if r.error:
                console.print(r.error, markup=False, highlight=False)
                continue
            detail = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2))
            for col in ("      check", "expected", "actual"):
                detail.add_column(col, overflow="fold")
            for c in r.checks:
                if not c.ok:
                    actual = c.actual if isinstance(c.actual, str) else value_text(c.actual)
                    detail.add_row(Text(f"      {c.path}"), Text(value_text(c.expected)), Text(actual))
            console.print(detail)
        failed = sum(1 for r in results if not r.ok)
        typer.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed or not results:
        raise typer.Exit(1)


class BatchFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


class Engine(str, Enum):
    local = "local"
    dask = "dask"


@app.command()
def synth(year: int = typer.Option(..., "--year", "-y", help="The performance year."),
          n: int = typer.Option(1000, "--n", help="How many records."),
          seed: int = typer.Option(0, "--seed", help="The random seed (same seed, same population)."),
          output: Path = typer.Option(..., "--output", "-o", help="The JSONL file to write."),
          rules: Optional[Path] = RulesOption) -> None:
    """Write a synthetic population drawn from the year's reference data."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.cli.outputs import check_output
    from mips_rules.engine.populations.synth import write_population
    from mips_rules.engine.years.loader import load_year

    if n < 0:
        _fail(RulesError(f"--n: must be 0 or more, got {n}"), 2)
    try:
        check_output(output)  # refuse a bad -o before any work
        write_population(load_year(year, rules), n, seed, output)
    except RulesError as exc:
        _fail(exc)
        return
    with _stdout():
        typer.echo(f"wrote {n} records to {output}")


class ImpactFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    html = "html"


@app.command()
def impact(base: str = typer.Argument(..., help="The base year (or a rules folder)."),
           population: Path = typer.Option(..., "--population", "-p",
                                           help="JSONL: one {id, submission, context} per line (as batch reads); "
                                                "or a table of category scores (.csv, .parquet: CMS's QPP "
                                                "Experience columns, as the year's population_table.yaml reads)."),
           draft: Optional[Path] = typer.Option(None, "--draft", help="The reform as a year folder (a draft)."),
           set_: list[str] = typer.Option([], "--set", help="The reform as changed values: PATH=VALUE "
                                                            "(program.performance_threshold=80); repeatable."),
           rules: Optional[Path] = RulesOption,
           format: ImpactFormat = typer.Option(ImpactFormat.table, "--format", "-f",
                                               help="table, json, markdown or html (with charts)."),
           output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the study to a file."),
           records_out: Optional[Path] = typer.Option(None, "--records",
                                                      help="Also write each record before and after (.csv or "
                                                           ".parquet)."),
           workers: Optional[int] = typer.Option(None, "--workers",
                                                 help="Processes for a large population (default: all cores).")
           ) -> None:
    """What a rule change does to a population: movers, groups, and the budget-neutral scaling factor."""
    from mips_rules.dsl.errors import Diagnostic, RulesError
    from mips_rules.engine.cli.outputs import OutputError, check_output
    from mips_rules.engine.populations.impact import compare, read_population
    from mips_rules.engine.populations.impact_render import print_study, to_html, to_markdown
    from mips_rules.engine.scoring.render import to_json
    from mips_rules.engine.workbench.reform import reform_year
    from mips_rules.engine.years.loader import load_year

    try:
        if output is not None:
            check_output(output, [population])
        if records_out is not None:
            check_output(records_out, [population, output])
        if workers is not None and workers < 1:
            raise OutputError(f"--workers: must be 1 or more, got {workers}", 2)
        if (draft is None) == (not set_):
            raise RulesError(Diagnostic("give the reform as --draft FOLDER or as one or more --set PATH=VALUE"))
        base_year = _load_rules_arg(base, rules)
        if draft is not None:
            reform = load_year(None, draft)
            label = f"the draft {draft}"
        else:
            reform = reform_year(base_year, set_)
            label = ", ".join(set_)
        if population.suffix.lower() in (".csv", ".parquet"):
            from mips_rules.engine.populations.score_table import rows as table_rows

            records = table_rows(base_year, population)  # the base year's table layout; rows read where scored
        else:
            records = read_population(population)
        with _progress_bar(population, "scoring both years") as progress:
            if records_out is not None:
                from mips_rules.engine.populations.impact import RowWriter

                groups = list(dict.fromkeys([*(base_year.report_layout.figures.get("groups") or []),
                                             *(reform.report_layout.figures.get("groups") or [])]))
                with RowWriter(records_out, [population], groups) as rows:
                    study = compare(base_year, reform, records, label, rows, workers=workers, progress=progress)
            else:
                study = compare(base_year, reform, records, label, workers=workers, progress=progress)
    except (RulesError, OutputError) as exc:
        _fail(exc)
        return
    if format is ImpactFormat.json:
        text = to_json(study)
    elif format is ImpactFormat.markdown:
        text = to_markdown(study)
    elif format is ImpactFormat.html:
        text = to_html(study)
    else:
        import io

        from rich.console import Console

        buffer = io.StringIO()
        print_study(study, Console(file=buffer, width=120, force_terminal=False))
        text = buffer.getvalue()
    _emit(text, output, (population,))


@contextmanager
def _progress_bar(population: Path, what: str) -> Iterator[Any]:
    """A progress bar on a terminal's stderr (none elsewhere: the study's output is the same), of
    the population's records: its lines (a table's, past the header), or a Parquet table's rows."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    total: int | None
    try:
        if population.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            total = pq.ParquetFile(population).metadata.num_rows
        else:
            from mips_rules.engine.populations.batch import count_lines

            total = count_lines(population) - (population.suffix.lower() == ".csv")
    except Exception:  # noqa: BLE001 - only the bar's length: reading the population says what is wrong
        total = None
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda k: bar.advance(task, k)


@app.command()
def batch(input: Path = typer.Argument(..., help="JSONL: one {id, submission, context} per line."),
          year: int = typer.Option(..., "--year", "-y", help="The performance year."),
          output: Path = typer.Option(..., "--output", "-o", help="Where to write the results."),
          format: BatchFormat = typer.Option(BatchFormat.jsonl, "--format", "-f",
                                             help="jsonl, csv or parquet (the CSV's columns; needs pyarrow)."),
          workers: Optional[int] = typer.Option(None, "--workers", help="Processes (default: all cores)."),
          engine: Engine = typer.Option(Engine.local, "--engine", help="local processes, or dask."),
          scheduler: Optional[str] = typer.Option(None, "--scheduler", help="The Dask scheduler address."),
          rules: Optional[Path] = RulesOption,
          resume: bool = typer.Option(False, "--resume", help="Continue an interrupted batch from the records "
                                                              "already written.")) -> None:
    """Score every record of a JSONL file. Bad records become error lines; exit 1 if any failed."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.populations.batch import Terminated, count_lines, part_path, run_dask, run_local, sigterm_stops_the_batch
    from mips_rules.engine.cli.outputs import check_output
    from mips_rules.engine.years.loader import load_year

    if workers is not None and workers < 1:
        _fail(RulesError(f"--workers: must be 1 or more, got {workers}"), 2)
    if engine is Engine.dask and not scheduler:
        _fail(RulesError("--engine dask needs --scheduler ADDRESS"), 2)
    if not input.is_file():
        _fail(RulesError(f"input not found: {input}" if not input.exists() else f"input is not a file: {input}"))
    try:
        check_output(output, [input])  # refuse a bad -o (a device, a link, the input …) before any work
        load_year(year, rules)  # fail fast, in this process, on broken rules
    except RulesError as exc:
        _fail(exc)
        return
    progress = None
    bar = None
    kept = (f"{part_path(output)} keeps the records written so far; run again with --resume to continue")
    try:
        with sigterm_stops_the_batch():
            if sys.stderr.isatty():
                from rich.progress import Progress

                bar = Progress(transient=True)
                task = bar.add_task("scoring", total=count_lines(input))
                bar.start()
                progress = lambda k: bar.advance(task, k)  # noqa: E731
            if engine is Engine.dask:
                stats = run_dask(input, output, year, scheduler, rules=rules, fmt=format.value,
                                 resume=resume, progress=progress)
            else:
                stats = run_local(input, output, year, rules=rules, fmt=format.value,
                                  workers=workers, resume=resume, progress=progress)
    except RulesError as exc:
        _fail(exc)
        return
    except OSError as exc:  # reading the input
        _fail(RulesError(f"cannot read {exc.filename or input}: {exc.strerror or exc}"))
        return
    except KeyboardInterrupt:
        _fail(RulesError(f"interrupted: {kept}"), 130)
        return
    except Terminated:
        _fail(RulesError(f"terminated (SIGTERM): the workers were stopped; {kept}"), 143)
        return
    finally:
        if bar is not None:
            bar.stop()
    if stats.resumed:
        typer.echo(f"resumed after {stats.resumed} records already written", err=True)
    typer.echo(f"scored {stats.records - stats.failed} of {stats.records} records into {output}"
               + (f"; {stats.failed} failed (error lines)" if stats.failed else ""), err=True)
    if stats.failed:
        raise typer.Exit(1)


plot_app = typer.Typer(no_args_is_help=True, help="Charts of a year's rules, as self-contained SVG.")
app.add_typer(plot_app, name="plot")


@plot_app.command("payment-adjustment")
def plot_payment_adjustment(years: list[str] = typer.Argument(..., help="Years or rules folders to draw."),
                            output: Path = typer.Option(..., "--output", "-o", help="The SVG file to write."),
                            rules: Optional[Path] = RulesOption) -> None:
    """Final score → payment adjustment for the given years, on one chart."""
    from mips_rules.dsl.errors import RulesError
    from mips_rules.engine.workbench.plot import adjustment_curve, svg_chart

    from mips_rules.engine.cli.outputs import check_output

    try:
        check_output(output)  # refuse a bad -o before any work
        curves = [(arg, adjustment_curve(_load_rules_arg(arg, rules))) for arg in years]
    except RulesError as exc:
        _fail(exc)
        return
    _emit(svg_chart(curves), output)
    with _stdout():
        typer.echo(f"wrote {output}")


data_app = typer.Typer(no_args_is_help=True, help="Reference data from CMS's published files.")
app.add_typer(data_app, name="data")


@data_app.command("import")
def data_import(year: int = typer.Argument(..., help="The performance year the files are for."),
                path: Path = typer.Argument(..., help="A folder with CMS's measures-data.json and benchmarks.json "
                                                      "(or benchmarks.csv), as in CMS's qpp-measures-data."),
                rules: Optional[Path] = RulesOption,
                commit: Optional[str] = typer.Option(None, "--commit", help="The CMS qpp-measures-data commit the "
                                                     "files come from (recorded as provenance)."),
                date: Optional[str] = typer.Option(None, "--date", help="The import date to record (YYYY-MM-DD; "
                                                   "default: today).")) -> None:
    """Import a year's complete measure inventory and benchmarks into its year folder.

    Writes measures.json and benchmarks.json (replacing a hand-written subset) only when every
    row is good and the year still checks with the new data; otherwise nothing is written."""
    import datetime
    import tempfile

    from mips_rules import __version__
    from mips_rules.dsl.errors import DataError, Diagnostic, RulesError
    from mips_rules.engine.years.cms_import import data_files, install, read_cms_folder, staged_copy
    from mips_rules.engine.years.loader import load_year, resolve_year_folder

    try:
        folder = resolve_year_folder(year, rules)
        if date is not None:
            datetime.date.fromisoformat(date)
        result = read_cms_folder(year, path)
        if result.problems:
            for d in result.problems[:50]:
                typer.echo(d.render(), err=True)
            more = len(result.problems) - 50
            typer.echo(f"{len(result.problems)} problem(s){f' ({more} more not shown)' if more > 0 else ''}; "
                       "nothing was imported", err=True)
            raise typer.Exit(1)
        files = data_files(result, commit, date or datetime.date.today().isoformat(), f"mips-rules {__version__}")
        with tempfile.TemporaryDirectory(prefix="mips-import-") as tmp:
            staged = staged_copy(folder, files, Path(tmp))
            try:
                checked = load_year(None, staged)
            except RulesError as exc:
                typer.echo(exc.render().replace(str(staged), str(folder)), err=True)
                typer.echo(f"the {year} rules do not check with these files; nothing was imported", err=True)
                raise typer.Exit(1)
            if checked.performance_year != year:
                raise DataError(Diagnostic(f"{folder} holds the rules of {checked.performance_year}, not {year}"))
        install(folder, files)
    except ValueError as exc:
        _fail(RulesError(f"--date: {exc}"))
        return
    except RulesError as exc:
        _fail(exc)
        return
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        _fail(RulesError(f"cannot import: {where}{exc.strerror or exc}; nothing was imported"))
        return
    with _stdout():
        for name, n in result.counts().items():
            typer.echo(f"{name}: {n} rows")
        typer.echo(f"imported CMS's {year} reference data into {folder} ({', '.join(sorted(files))})")


def _explanation(year, scored, query: str):
    """The trace entries a query names (the whole final score by default)."""
    from mips_rules.dsl.errors import Diagnostic, RulesError
    from mips_rules.engine.scoring.explain import find

    entries = scored.evaluation.trace
    found = find(entries, query, year)
    if not found:
        raise RulesError(Diagnostic(f"nothing named `{query}` was computed for this submission",
                                    hint="try a rule name (final_score, category_weight, quality_points) or a "
                                         "report path (categories.pi.score, quality.measures.001.points)"))
    return found


def _emit(text: str, output: Optional[Path], inputs: tuple = (), code: int = 1) -> None:
    """stdout, or a file written through a temporary file and renamed: never half-written; only a
    regular file or a new path is replaced, never one of the inputs. Any failure: a message, exit non-zero."""
    from mips_rules.engine.cli.outputs import OutputError, emit

    try:
        emit(text, output, inputs=inputs)
    except OutputError as exc:
        _fail(exc, code)


def normalise_argv(argv: list[str]) -> list[str]:
    """`--explain` may stand alone (explain the final score) or name what to explain."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg == "--explain" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out.insert(i + 1, "final_score")
            break
    return out


def main() -> None:  # pragma: no cover - console entry point
    app(args=normalise_argv(sys.argv[1:]), prog_name="rulesctl")


if __name__ == "__main__":  # pragma: no cover
    main()
