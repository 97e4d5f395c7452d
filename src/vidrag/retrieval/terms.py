"""Keyword terms: what the keyword index stores and what a query is matched with.

SQLite's unicode61 tokenizer splits on spaces and punctuation, which leaves Chinese as one long token.
jieba segments CJK runs into words first; the same function serves documents and queries, so both sides
always agree.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import jieba

jieba.setLogLevel(logging.WARNING)
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
# CJK runs and other words apart, so "G7521次高铁" gives "g7521" and the Chinese words after it
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[^\W_\u3400-\u9fff\uf900-\ufaff]+", re.UNICODE)
# Stop words carry no signal for BM25 and make OR queries match everything.
STOP_WORDS = frozenset("""a an and are as at be but by for from has have he her his i if in into is it its me my
no not of on or our she so that the their them then there these they this to was we were what when where which
who whom why will with you your do does did how can could would should about tell than 的 了 和 是 在 我 有 就 不
人 都 一 也 很 到 说 要 去 你 会 着 没有 看 好 自己 这 那 吗 什么 怎么 为什么 哪 谁 呢""".split())


@lru_cache(maxsize=1)
def _ready() -> bool:
    jieba.initialize()  # loads the dictionary once, ~0.5 s
    return True


def _fold(text: str) -> str:
    """Lower case without diacritics ("Café" -> "cafe"), as FTS5's remove_diacritics does, for every index."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def terms(text: str) -> list[str]:
    """Folded words; CJK runs segmented by jieba (search mode, so compounds also yield their parts).

    What the keyword index stores and what queries match, on SQLite (FTS5) and PostgreSQL (tsvector) alike.
    """
    out: list[str] = []
    for token in _WORD.findall(_fold(text)):
        if _CJK_RUN.fullmatch(token):
            _ready()
            out.extend(t for t in jieba.cut_for_search(token) if t.strip())
        else:
            out.append(token)
    return out


def query_terms(text: str) -> list[str]:
    """The meaningful terms of a question, in order, without repeats or stop words."""
    return [t for t in dict.fromkeys(terms(text)) if t not in STOP_WORDS]
