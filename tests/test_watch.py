"""`atlas watch`, offline: arXiv answers in the API's format (tests/fixtures/watch/) stand in for the network."""

import datetime as dt
from pathlib import Path

from atlas.dataset import taxonomy as taxonomy_mod
from atlas.dataset import validate, watch

FIXTURES = Path(__file__).parent / "fixtures" / "watch"
SINCE = dt.date(2026, 11, 22)
EMPTY_FEED = '<feed xmlns="http://www.w3.org/2005/Atom"></feed>'


def entries():
    return list(validate.run(check_pybtex=False).entries.values())


def test_every_topic_has_keywords_to_be_found_by():
    tax = taxonomy_mod.load()
    assert all(len(t.keywords) >= 3 for t in tax.topics.values()), [
        t.id for t in tax.topics.values() if len(t.keywords) < 3
    ]


def test_one_query_per_chapter_names_its_keywords_and_the_date():
    tax = taxonomy_mod.load()
    query = watch.chapter_query(tax.chapter("decoding"), SINCE)
    assert 'abs:"speculative decoding"' in query and "cat:cs.CL" in query and "submittedDate:[202611220000 TO" in query


def test_triage_drops_known_and_old_papers_and_ranks_the_rest(dataset):
    asked = []

    def fetch_page(query, start):
        asked.append(query)
        return (FIXTURES / "search.xml").read_text()

    tax = taxonomy_mod.load()
    found = watch.triage(entries(), tax, SINCE, fetch_page=fetch_page)
    assert len(asked) == len(tax.chapters)  # one page each: the answer was shorter than a page
    assert [c.arxiv_id for c in found] == ["2611.99001", "2611.99002"]  # known id, known title and too old dropped
    best = found[0]
    assert best.topics[0][0] == "speculative-decoding" and best.score > found[1].score
    assert found[1].topics[0][0] == "kv-cache-compression"
    body = watch.markdown(found, SINCE)
    assert "python -m atlas add --arxiv 2611.99001 --topic speculative-decoding" in body
    assert body.count("\n| ") == 3  # header row and the two candidates


def test_preprints_now_published(dataset):
    asked = []

    def fetch_ids(ids):
        # arXiv answers only for the ids it is asked about; the fixture answers for QLoRA's
        asked.append(ids)
        return (FIXTURES / "venues.xml").read_text() if "2305.14314" in ids else EMPTY_FEED

    found = watch.published_preprints(entries(), fetch_ids=fetch_ids)
    assert found == [("dettmers2023qlora", "Test Venue 2099 (constructed)", "")]
    assert all(len(batch) <= 100 for batch in asked)
    flat = [i for batch in asked for i in batch]
    assert len(flat) == len(set(flat))  # each preprint asked about once
