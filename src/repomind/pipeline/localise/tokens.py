"""A code-aware tokeniser: identifiers split on case and underscores, stemmed, with path tokens."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|[0-9]+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "also",
        "get",
        "got",
        "however",
        "would",
        "like",
        "use",
        "using",
        "used",
        "want",
        "seems",
        "thing",
        "way",
        "one",
        "two",
        "return",
        "def",
        "class",
        "self",
        "none",
        "true",
        "false",
        "import",
        "from",
        "pass",
        "elif",
        "else",
        "try",
        "except",
        "raise",
        "lambda",
        "yield",
        "assert",
        "py",
        "http",
        "https",
        "www",
        "com",
        "org",
        "github",
        "issue",
        "bug",
        "expected",
        "actual",
        "version",
        "versions",
    ]
)


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    stemmer = _stemmer()
    return str(stemmer.stemWord(word))  # type: ignore[attr-defined]


def split_identifier(identifier: str) -> list[str]:
    """``parseHTTPResponse_v2`` → ``["parse", "http", "response", "v", "2"]`` (lower case, unstemmed)."""
    parts: list[str] = []
    for chunk in identifier.split("_"):
        if not chunk:
            continue
        parts.extend(p.lower() for p in _CAMEL.findall(chunk))
    return parts


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: every identifier split into words, plus the whole identifier when it was compound."""
    tokens: list[str] = []
    for ident in _IDENT.findall(text):
        words = split_identifier(ident)
        if len(words) > 1:
            tokens.append(ident.lower().strip("_"))
        for word in words:
            if len(word) < 2 or word in STOPWORDS:
                continue
            tokens.append(_stem(word))
    return tokens


def path_tokens(path: str) -> list[str]:
    """Tokens of a file path: directory names and the file's stem, split like identifiers."""
    stem = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return tokenize(stem.replace("/", " "))


def identifiers(text: str) -> set[str]:
    """The identifiers of ``text`` that look like code (snake_case, camelCase or dotted), for matching."""
    return {m for m in _IDENT.findall(text) if len(m) > 2}


def join(texts: Iterable[str]) -> str:
    return "\n".join(t for t in texts if t)
