"""`python -m atlas COMMAND`: the command-line contract that maintainers, CI and tests rely on.

validate [PATH ...]   check everything (problems as FILE:LINE: message; exit 1 if any); never writes
add                   add a paper from BibTeX (--bibtex FILE or -) or an arXiv id (--arxiv ID)
update KEY            record a venue, journal, DOI or code link for a paper already in the Atlas
format [--check]      put bib/papers.bib and the YAML in canonical order and style
build [--clean]       validate, then build the book to _build/html (strict: any warning fails)
notebooks [--check]   regenerate each chapter's Colab notebook from its Markdown source
words KEY --abstract  check a summary does not repeat a run of its abstract's words
watch [--venues]      new arXiv papers to triage; preprints that have since been published
export DIR            write the dataset as CSV, JSON and BibTeX
schema [--write]      check (or regenerate) data/schema/paper.schema.json from the taxonomy
"""

import argparse
import sys
from pathlib import Path

from atlas import paths


def _validate(args) -> int:
    from atlas.dataset import validate

    checked = validate.run(only=args.paths or None)
    for problem in checked.problems:
        print(problem)
    if checked.problems:
        print(f"{len(checked.problems)} problem(s) found.", file=sys.stderr)
        return 1
    results = sum(len(r.data.get("results") or []) for r in checked.records.values())
    print(f"ok: {len(checked.records)} papers, {results} reported results, no problems.", file=sys.stderr)
    return 0


def _add(args) -> int:
    from atlas.dataset import arxiv, contribute

    if args.arxiv:
        arxiv_id = arxiv.clean_id(args.arxiv)
        text, journal_ref = arxiv.to_bibtex(arxiv.fetch(arxiv_id), arxiv_id)
        source = f"arXiv:{arxiv_id}"
    else:
        source = "<stdin>" if args.bibtex == "-" else args.bibtex
        if args.bibtex == "-":
            text = sys.stdin.read()
        else:
            path = Path(args.bibtex)
            if not path.is_file():
                print(f"{args.bibtex}:1: no such file; pass a .bib file, or - to read the entry from standard input")
                return 1
            text = path.read_text(encoding="utf-8")
        journal_ref = ""
    report = contribute.add(
        text, source, args.topic, summary=args.summary, stages=args.stage, kind=args.kind, code=args.code
    )
    print("\n".join(report.lines))
    if journal_ref:
        print(
            f"arXiv lists a journal reference: {journal_ref!r}. If the paper appeared there, record it with "
            f"`python -m atlas update KEY --venue ...` (or --journal ...)."
        )
    return 0


def _update(args) -> int:
    from atlas.dataset import contribute

    report = contribute.update(args.key, venue=args.venue, journal=args.journal, doi=args.doi, code=args.code)
    print("\n".join(report.lines))
    return 0


def _format(args) -> int:
    from atlas.dataset import formatting

    outcome = formatting.run(check=args.check)
    for problem in outcome.problems:
        print(problem)
    for file in outcome.changed:
        print(f"{file}:1: not in canonical format; run `python -m atlas format`" if args.check else f"formatted {file}")
    if outcome.problems or (args.check and outcome.changed):
        return 1
    if not outcome.changed:
        print("all files are in canonical format.", file=sys.stderr)
    return 0


def _build(args) -> int:
    from atlas.book import build as book

    return book.build(clean=args.clean)


def _watch(args) -> int:
    import datetime as dt

    from atlas import data
    from atlas.dataset import validate, watch

    checked = validate.run(check_pybtex=False)
    entries = list(checked.entries.values())
    if args.venues:
        found = watch.published_preprints(entries)
        for key, journal_ref, doi in found:
            where = f"journal reference {journal_ref!r}" if journal_ref else f"DOI {doi}"
            print(f"{key}: arXiv now lists {where}; if it appeared there, "
                  f"`python -m atlas update {key} --venue ...`" + (f" --doi {doi}" if doi else ""))  # fmt: skip
        print(f"{len(found)} preprint(s) arXiv lists as published.", file=sys.stderr)
        return 0
    since = dt.date.fromisoformat(args.since) if args.since else data.frames(checked).papers["added"].max().date()
    candidates = watch.triage(entries, checked.taxonomy, since, max_pages=args.pages)
    print(watch.markdown(candidates, since, args.limit) if args.markdown else watch.text(candidates, since, args.limit))
    return 0


def _words(args) -> int:
    from atlas.dataset import ownwords, yamlio

    record = paths.papers_dir() / f"{args.key}.yaml"
    if not record.exists():
        print(f"{paths.relative(record)}:1: no such paper; pass a key of the dataset")
        return 1
    abstract = sys.stdin.read() if args.abstract == "-" else Path(args.abstract).read_text(encoding="utf-8")
    summary = yamlio.read(record).get("summary", "")
    length, run = ownwords.longest_shared_run(summary, abstract)
    copied = ownwords.problem(summary, abstract)
    if copied:
        print(f"{paths.relative(record)}:{yamlio.line_of(record.read_text(encoding='utf-8'), ['summary'])}: {copied}")
        return 1
    print(f"{args.key}: longest run shared with the abstract is {length} words ({run!r}); fine.", file=sys.stderr)
    return 0


def _notebooks(args) -> int:
    from atlas.book import notebooks

    differed = notebooks.sync(check=args.check)
    for path in differed:
        if args.check:
            print(
                f"{paths.relative(path)}:1: differs from {path.with_suffix('.md').name}; run `python -m atlas notebooks`"
            )
        else:
            print(f"wrote {paths.relative(path)}")
    if not differed:
        print("every chapter notebook matches its Markdown.", file=sys.stderr)
    return 1 if args.check and differed else 0


def _export(args) -> int:
    from atlas import data
    from atlas.dataset import export

    written = export.write(data.load(), Path(args.dir))
    for path in written:
        print(paths.relative(path))
    return 0


def _stats(args) -> int:
    from atlas import data
    from atlas.dataset import stats

    print(stats.report(data.load(), show_keys=args.keys))
    return 0


def _schema(args) -> int:
    from atlas.dataset import schema, taxonomy

    tax = taxonomy.load()
    if args.write:
        print(f"wrote {paths.relative(schema.write(tax))}")
        return 0
    current = paths.schema_file()
    if current.exists() and current.read_text(encoding="utf-8") == schema.render(tax):
        print(f"{paths.relative(current)} is up to date.")
        return 0
    print(f"{paths.relative(current)}:1: out of date with data/taxonomy.yaml; run `python -m atlas schema --write`")
    return 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m atlas", description="The LLM Efficiency Atlas: dataset checks, book build and exports."
    )
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check the dataset (or only report on the named files)")
    v.add_argument("paths", nargs="*", help="files to report on (default: everything)")
    v.set_defaults(run=_validate)
    a = sub.add_parser("add", help="add a paper: writes its BibTeX entry and a YAML record, refusing duplicates")
    source = a.add_mutually_exclusive_group(required=True)
    source.add_argument("--bibtex", metavar="FILE", help="a file with one BibTeX entry, or - for standard input")
    source.add_argument("--arxiv", metavar="ID", help="an arXiv id: fetch the metadata from arXiv (needs the network)")
    a.add_argument(
        "--topic",
        action="append",
        default=[],
        required=True,
        help="a topic id from data/taxonomy.yaml (repeat; the first is primary)",
    )
    a.add_argument("--summary", help="1-3 sentences in your own words")
    a.add_argument(
        "--stage",
        action="append",
        help="pretraining, finetuning, inference or serving (repeat; default: the chapter's)",
    )
    a.add_argument("--kind", help="method (default), system, survey, benchmark or analysis")
    a.add_argument("--code", help="the official code repository (https://...)")
    a.set_defaults(run=_add)
    u = sub.add_parser("update", help="record a venue, journal, DOI or code for a paper already in the Atlas")
    u.add_argument("key")
    u.add_argument(
        "--venue",
        help="the conference it appeared at, e.g. 'Advances in Neural Information Processing Systems (NeurIPS 2023)'",
    )
    u.add_argument("--journal", help="the journal it appeared in")
    u.add_argument("--doi", help="the published version's DOI")
    u.add_argument("--code", help="the official code repository (https://...)")
    u.set_defaults(run=_update)
    f = sub.add_parser("format", help="put the bibliography and the YAML in canonical order and style")
    f.add_argument("--check", action="store_true", help="only report files that are not canonical (exit 1 if any)")
    f.set_defaults(run=_format)
    b = sub.add_parser("build", help="validate, then build the book into _build/html")
    b.add_argument("--clean", action="store_true", help="discard cached pages and executions first (what CI does)")
    b.set_defaults(run=_build)
    wa = sub.add_parser(
        "watch", help="new arXiv papers to triage (needs the network); --venues: preprints now published"
    )
    wa.add_argument("--since", help="YYYY-MM-DD (default: the newest `added` date in the dataset)")
    wa.add_argument("--markdown", action="store_true", help="print the list as Markdown (the weekly issue's body)")
    wa.add_argument("--limit", type=int, default=100, help="how many candidates to list (default 100)")
    wa.add_argument("--pages", type=int, default=3, help="result pages of 200 to read per chapter (default 3)")
    wa.add_argument("--venues", action="store_true", help="instead, list preprints arXiv now lists as published")
    wa.set_defaults(run=_watch)
    w = sub.add_parser("words", help="check that a paper's summary does not copy a clause of its abstract")
    w.add_argument("key")
    w.add_argument("--abstract", required=True, metavar="FILE", help="the abstract as text, or - for standard input")
    w.set_defaults(run=_words)
    n = sub.add_parser("notebooks", help="regenerate each chapter's Colab notebook (.ipynb) from its Markdown")
    n.add_argument("--check", action="store_true", help="only report notebooks that differ (exit 1 if any)")
    n.set_defaults(run=_notebooks)
    e = sub.add_parser("export", help="write the dataset as CSV, JSON and BibTeX into DIR")
    e.add_argument("dir")
    e.set_defaults(run=_export)
    st = sub.add_parser("stats", help="what the dataset holds and where its gaps are")
    st.add_argument("--keys", action="store_true", help="list the papers behind each gap")
    st.set_defaults(run=_stats)
    s = sub.add_parser("schema", help="check the published JSON Schema against the taxonomy")
    s.add_argument("--write", action="store_true", help="regenerate it")
    s.set_defaults(run=_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    from atlas.dataset.arxiv import ArxivError
    from atlas.dataset.contribute import Refused
    from atlas.dataset.problems import DatasetError

    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except Refused as err:
        for problem in err.problems:
            print(problem)
        print("Refused; nothing was written.", file=sys.stderr)
        return 1
    except ArxivError as err:
        print(f"arXiv: {err}")
        return 1
    except DatasetError as err:
        for problem in err.problems:
            print(problem)
        print(f"{len(err.problems)} problem(s) found; nothing was done.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
