"""The issue as data: hidden HTML stripped, and the paths, frames, identifiers and tests it names.

The one parser of issue text: the solve pipeline reads :func:`mentions` and :func:`keywords`, the
localiser scores files by :func:`frames`, :func:`source_paths`, :func:`dotted_names`, :func:`words` and
:func:`code_text` (``localise/mentions.py``), and training reads :func:`strip_hidden`.

Issue text is untrusted. What a reader of the rendered issue cannot see never reaches the model: HTML
comments, elements marked hidden, elements GitHub drops or does not show (scripts, styles, templates,
forms and their fields, frames, ``noscript``, ``title``...), Markdown link reference definitions (the
``[//]: # (a comment)`` and ``[comment]: <> (...)`` idiom among them), and invisible Unicode characters
(zero-width and bidirectional controls, the "tag" characters). Other HTML tags are reduced to their
text. Code, in fences or backticks, is kept exactly as written, so ``<module>`` in a traceback survives.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

_FENCE = re.compile(r"^(?P<fence>```+|~~~+)[^\n]*\n.*?(?:^(?P=fence)[ \t]*$|\Z)", re.S | re.M)
_INLINE_CODE = re.compile(r"(`+)[^`]*?\1")
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_INVISIBLE = re.compile(
    r"<(script|style|template|noscript|textarea|select|option|title|head|iframe|object|embed|applet|"
    r"frameset|noframes|xmp|plaintext|button|form)\b[^>]*>.*?(?:</\1\s*>|\Z)"
    r"|<(\w+)\b[^>]*(?:\shidden(?=[\s=>/])|display\s*:\s*none)[^>]*>.*?(?:</\2\s*>|\Z)",
    re.S | re.I,
)
_HTML_TAGS = (
    "a|abbr|b|blockquote|br|code|dd|del|details|div|dl|dt|em|font|h[1-6]|hr|i|img|input|ins|kbd|li|mark|"
    "ol|p|picture|pre|q|s|samp|source|span|strike|strong|sub|summary|sup|table|tbody|td|tfoot|th|thead|"
    "tr|tt|u|ul|var|video|iframe|object|embed|form|button|meta|link|svg|math"
)
_TAG = re.compile(rf"</?(?:{_HTML_TAGS})\b[^>]*>", re.I)
#: A Markdown link reference definition: never rendered (``[//]: # (hidden)``, ``[x]: <> (hidden)``).
_LINK_DEFINITION = re.compile(
    r"^[ ]{0,3}\[(?:[^\]\\\n]|\\.){1,999}\]:[ \t]*\n?[ \t]*(?:<[^>\n]*>|\S+)"
    r"(?:[ \t]*\n?[ \t]*(?:\"[^\"]*\"|'[^']*'|\([^)]*\)))?[ \t]*$\n?",
    re.M,
)
#: Characters that render as nothing: zero-width, bidirectional controls, word joiners, BOM, tag chars.
_INVISIBLE_CHARS = re.compile(
    "[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]"
)
_BLANK_RUNS = re.compile(r"\n{3,}")


def _path_pattern(extensions: str, separators: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w/.-])((?:[\w.-]+[{separators}])*[\w.-]+\.(?:{extensions}))\b")


#: Paths the patch prompt and the test choice care about: Python, its configuration and docs.
_PATH = _path_pattern("py|pyi|cfg|toml|ini|txt|rst|md|json|ya?ml", "/")
#: Source files in any language the localiser indexes, with either separator (a Windows traceback).
_SOURCE_PATH = _path_pattern("py|pyi|js|jsx|ts|tsx|go|java|rs", r"/\\")
#: A traceback line; the function only when the frame names one (``, in name``).
_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:, in ([\w<>]+))?')
_DOTTED = re.compile(r"\b([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b")
_BACKTICK = re.compile(r"`([^`\n]{2,80})`")
_CODEBLOCK = re.compile(r"```.*?```", re.S)
_IDENT = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]{2,})\b")
_NODE_ID = re.compile(r"((?:[\w.-]+/)*[\w.-]+\.py)::([\w\[\]\-.:]+)")
_TEST_NAME = re.compile(r"\b(test_\w+)\b")
_STOPWORD_TEXT = """
the and for with that this from are was were not but you your have has had when what which will
would should could can cannot does did doing done into onto than then them they their there here
how why who all any some one two its it's also just only like such use used using get gets got
set sets new old now see seen make made need needs want wants file files line lines error errors
issue bug fix fixes fixed expected actual result results return returns value values true false
none null self cls def class import python traceback most recent call last
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def strip_hidden(text: str) -> str:
    """The issue as its reader sees it: comments and hidden elements gone, other tags reduced to text."""
    text = _INVISIBLE_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    out: list[str] = []
    pos = 0
    for fence in _FENCE.finditer(text):
        out.append(_strip_prose(text[pos : fence.start()]))
        out.append(fence.group(0))
        pos = fence.end()
    out.append(_strip_prose(text[pos:]))
    return _BLANK_RUNS.sub("\n\n", "".join(out)).strip()


def _strip_prose(text: str) -> str:
    """Protect inline code, remove what a reader cannot see, reduce the remaining tags, restore the code."""
    codes: list[str] = []

    def keep(match: re.Match[str]) -> str:
        codes.append(match.group(0))
        return f"\0{len(codes) - 1}\0"

    text = _INLINE_CODE.sub(keep, text.replace("\0", ""))
    text = _COMMENT.sub("", text)
    text = _LINK_DEFINITION.sub("", text)
    text = _INVISIBLE.sub("", text)
    text = _TAG.sub("", text)
    return re.sub(r"\0(\d+)\0", lambda m: codes[int(m.group(1))], text)


@dataclass(frozen=True)
class Mentions:
    """What an issue names: file paths, dotted names, identifiers, and tests."""

    paths: list[str] = field(default_factory=list)
    trace_lines: list[tuple[str, int]] = field(default_factory=list)
    dotted: list[str] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    test_ids: list[str] = field(default_factory=list)
    test_names: list[str] = field(default_factory=list)


def mentions(text: str) -> Mentions:
    """Paths, traceback locations, dotted names, identifiers and tests named in ``text``, in order."""
    trace = [(m.group(1), int(m.group(2))) for m in _FRAME.finditer(text)]
    paths = _unique(m.group(1) for m in _PATH.finditer(text))
    dotted = _unique(m.group(1) for m in _DOTTED.finditer(text) if not _looks_like_file(m.group(1)))
    idents = _unique(
        m.group(1)
        for m in _IDENT.finditer(text)
        if m.group(1).lower() not in _STOPWORDS and (("_" in m.group(1)) or _is_codey(m.group(1)))
    )
    test_ids = _unique(f"{m.group(1)}::{m.group(2)}" for m in _NODE_ID.finditer(text))
    test_names = _unique(m.group(1) for m in _TEST_NAME.finditer(text))
    return Mentions(paths, trace, dotted, idents, test_ids, test_names)


@dataclass(frozen=True)
class Frame:
    """A traceback frame the issue quotes: ``File "path", line N, in function``."""

    path: str
    line: int
    function: str


def frames(text: str) -> list[Frame]:
    """The traceback frames that name their function, in order (repeats kept: depth matters)."""
    return [Frame(m[1], int(m[2]), m[3]) for m in _FRAME.finditer(text) if m[3] is not None]


def source_paths(text: str) -> list[str]:
    """Source-file paths named outside traceback frames, as often as they are named."""
    outside = _FRAME.sub(lambda m: " " if m[3] is not None else m[0], text)
    return _SOURCE_PATH.findall(outside)


def dotted_names(text: str) -> list[str]:
    """Every ``a.b.c``-shaped name, as often as it is named (files among them)."""
    return _DOTTED.findall(text)


def words(text: str) -> list[str]:
    """Every identifier-shaped word of three characters or more, as often as it is named."""
    return _IDENT.findall(text)


def code_text(text: str) -> str:
    """The text of fenced blocks and backtick spans, where a name is more likely code than prose."""
    return " ".join(_CODEBLOCK.findall(text)) + " " + " ".join(_BACKTICK.findall(text))


def keywords(text: str) -> list[str]:
    """Lower-case words of three letters or more, stopwords removed: for ranking files by the issue."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9]{2,}", re.sub(r"([a-z])([A-Z])", r"\1 \2", text))
    return [w.lower() for w in words if w.lower() not in _STOPWORDS]


def _is_codey(word: str) -> bool:
    """camelCase or CapWords with an inner capital: likely an identifier, not an English word."""
    return bool(re.search(r"[a-z][A-Z]", word))


def _looks_like_file(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in {"py", "pyi", "cfg", "toml", "ini", "txt", "rst", "md", "json", "yml"}


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
