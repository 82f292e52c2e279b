"""The LLM Efficiency Atlas: the dataset, the lab its chapters measure with, and the book built from both.

The chapters use one public surface, so the package can be reorganised without touching them::

    from atlas import data, charts, tables, demos, claims

    ds = data.load().chapter("quantization")   # papers, paper_topics, results as pandas DataFrames
    charts.papers_per_year(ds.paper_topics)     # the book's charts and tables
    model = demos.load("m")                     # the lab: trained models, corpus, meters
    claims.record(...)                          # a re-measured figure beside the paper's own

Inside, the package follows the data flow: `atlas.dataset` (BibTeX and YAML in, checked records
out), `atlas.data` (records to DataFrames), `atlas.demos` (the lab), `charts`, `tables` and
`claims` (what pages show), and `atlas.book` (the build that executes and publishes the pages).
"""

__version__ = "0.1.0"
__all__ = ["data", "charts", "tables", "demos", "claims"]
