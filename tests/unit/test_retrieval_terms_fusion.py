from __future__ import annotations

from vidrag.retrieval.fusion import rrf, weighted
from vidrag.retrieval.terms import query_terms, terms
from vidrag.storage.knowledge_repo import fts5_match
from vidrag.storage.pg_search import tsquery_literal, tsvector_literal


def test_codes_are_split_from_chinese_text() -> None:
    got = terms("G7521次高铁几点发车")
    assert "g7521" in got
    assert "高铁" in got


def test_query_terms_drop_stop_words_and_repeats() -> None:
    assert query_terms("What is the refund policy, the refund?") == ["refund", "policy"]
    assert query_terms("the of and") == []
    assert fts5_match(query_terms('say "hi"')) == '"say" OR "hi"'


def test_terms_fold_case_and_diacritics_like_fts5() -> None:
    assert terms("Café NAÏVE Ångström") == ["cafe", "naive", "angstrom"]


def test_postgres_literals_keep_our_terms_and_positions() -> None:
    assert tsvector_literal(["tide", "moon", "tide", "it's"]) == "'tide':1,3 'moon':2 'it''s':4"
    assert tsquery_literal(["a", "b\\c"]) == "'a' | 'b\\\\c'"


def test_one_common_word_no_longer_earns_the_whole_keyword_weight() -> None:
    # the harness's case: "How do I stop my skillet from rusting?" vs a first-aid chunk matching only "stop"
    semantic = [(1, 0.583), (2, 0.236)]  # 1 is the right chunk; it shares no keyword with the question
    keyword = [(2, 9.0)]
    plain = weighted(semantic, keyword, 0.7, 0.3)
    assert plain[0].segment_id == 2  # 0.3 + 0.7 * 0.236 = 0.465 beat 0.7 * 0.583 = 0.408
    covered = weighted(semantic, keyword, 0.7, 0.3, coverage={2: 1 / 3})
    assert covered[0].segment_id == 1


def test_rrf_first_in_both_scores_one() -> None:
    hits = rrf([(1, 0.9), (2, 0.5)], [(1, 7.0), (3, 2.0)])
    assert hits[0].segment_id == 1
    assert abs(hits[0].score - 1.0) < 1e-9
