"""`python -m atlas COMMAND`: the command-line contract that maintainers, CI and tests rely on.

    validate [PATH ...]   check everything (problems as FILE:LINE: message; exit 1 if any); never writes
    build [--clean]       validate, then build the book to _build/html (strict: any warning fails)
    export DIR            write the dataset as CSV, JSON and BibTeX
    schema [--write]      check (or regenerate) data/schema/paper.schema.json from the taxonomy
"""

import argparse
import sys
from pathlib import Path

from atlas import paths


def _validate(args) -> int:
    from atlas import validate

    checked = validate.run(only=args.paths or None)
    for problem in checked.problems:
        print(problem)
    if checked.problems:
        print(f"{len(checked.problems)} problem(s) found.", file=sys.stderr)
        return 1
    results = sum(len(r.data.get("results") or []) for r in checked.records.values())
    print(f"ok: {len(checked.records)} papers, {results} reported results, no problems.", file=sys.stderr)
    return 0


def _build(args) -> int:
    from atlas import book

    return book.build(clean=args.clean)


def _export(args) -> int:
    from atlas import data, export

    written = export.write(data.load(), Path(args.dir))
    for path in written:
        print(paths.relative(path))
    return 0


def _schema(args) -> int:
    from atlas import schema, taxonomy

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
    p = argparse.ArgumentParser(prog="python -m atlas", description="The LLM Efficiency Atlas: dataset checks, book build and exports.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check the dataset (or only report on the named files)")
    v.add_argument("paths", nargs="*", help="files to report on (default: everything)")
    v.set_defaults(run=_validate)
    b = sub.add_parser("build", help="validate, then build the book into _build/html")
    b.add_argument("--clean", action="store_true", help="discard cached pages and executions first (what CI does)")
    b.set_defaults(run=_build)
    e = sub.add_parser("export", help="write the dataset as CSV, JSON and BibTeX into DIR")
    e.add_argument("dir")
    e.set_defaults(run=_export)
    s = sub.add_parser("schema", help="check the published JSON Schema against the taxonomy")
    s.add_argument("--write", action="store_true", help="regenerate it")
    s.set_defaults(run=_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    from atlas.problems import DatasetError

    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except DatasetError as err:
        for problem in err.problems:
            print(problem)
        print(f"{len(err.problems)} problem(s) found; nothing was done.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
