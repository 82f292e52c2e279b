"""The LLM Efficiency Atlas: the dataset, its checks, and the helpers the book's chapters share.

Most readers need only::

    from atlas import data
    ds = data.load()          # papers, paper_topics, results as pandas DataFrames
"""

__version__ = "0.1.0"
