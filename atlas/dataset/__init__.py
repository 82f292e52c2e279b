"""The paper dataset's machinery: parse, validate, add, format and export the records.

bib/papers.bib and data/papers/*.yaml come in here and leave as checked records (validate), which
atlas.data turns into DataFrames. Contributors reach it through `python -m atlas` (atlas.cli).
"""
