"""WordNet for the ``meteor`` metric, found offline or refused with what to install.

nltk's METEOR matches synonyms through the WordNet 3.0 corpus, which nltk downloads separately
(``python -m nltk.downloader wordnet``, from nltk's data server). Without network, Debian and
Ubuntu ship the same WordNet 3.0 database in ``wordnet-base`` and ``wordnet-sense-index``;
``python -m rftkit.graders.wordnet`` copies it into this environment's ``nltk_data`` in the
layout nltk reads, writing ``lexnames`` from the table in the package's ``lexnames(5WN)`` page.
If neither is present, ``meteor`` refuses with :class:`MetricUnavailable` naming both ways,
rather than scoring without synonyms.
"""

from __future__ import annotations

import argparse
import gzip
import re
import shutil
import sys
import warnings
from functools import cache
from pathlib import Path

from rftkit.graders.similarity import MetricUnavailable

SYSTEM_DICT = Path("/usr/share/wordnet")
SYSTEM_LEXNAMES_MAN = Path("/usr/share/man/man5/lexnames.5WN.gz")
DICT_FILES = (
    "adj.exc",
    "adv.exc",
    "cntlist.rev",
    "data.adj",
    "data.adv",
    "data.noun",
    "data.verb",
    "index.adj",
    "index.adv",
    "index.noun",
    "index.sense",
    "index.verb",
    "noun.exc",
    "verb.exc",
)
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
_LEXNAME_ROW = re.compile(r"^(\d\d)\t([a-z]+)\.(\w+)\s*\t", re.MULTILINE)

HOW_TO_INSTALL = (
    "meteor needs the WordNet 3.0 corpus for nltk, which is not installed. Either run "
    "`python -m nltk.downloader wordnet` (downloads from nltk's data server), or offline on "
    "Debian/Ubuntu: `apt-get install wordnet-base wordnet-sense-index` then "
    "`python -m rftkit.graders.wordnet`."
)


def default_target() -> Path:
    """``<sys.prefix>/share/nltk_data``: on nltk's search path, inside this environment."""
    return Path(sys.prefix) / "share" / "nltk_data"


@cache
def load_wordnet():
    """nltk's WordNet reader; MetricUnavailable with install instructions when absent."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    try:
        root = nltk.data.find("corpora/wordnet")
    except LookupError:
        raise MetricUnavailable(HOW_TO_INSTALL) from None
    with warnings.catch_warnings():  # multilingual (OMW) data is not needed for English METEOR
        warnings.filterwarnings("ignore", "The multilingual functions", UserWarning)
        reader = WordNetCorpusReader(root, None)
    if reader.get_version() != "3.0":
        raise MetricUnavailable(f"found WordNet {reader.get_version()} at {root}; need 3.0")
    return reader


def lexnames_from_manpage(manpage: Path) -> str:
    """The ``lexnames`` file (number, name, syntactic category) from ``lexnames(5WN)``."""
    text = gzip.decompress(manpage.read_bytes()).decode("utf-8", "replace")
    rows = [
        f"{number}\t{pos}.{name}\t{_CATEGORY[pos]}"
        for number, pos, name in _LEXNAME_ROW.findall(text)
    ]
    if len(rows) != 45 or [int(r[:2]) for r in rows] != list(range(45)):
        raise ValueError(f"{manpage}: expected the 45 lexicographer files 00-44, got {len(rows)}")
    return "\n".join(rows) + "\n"


def install_from_system(
    source: Path = SYSTEM_DICT, manpage: Path = SYSTEM_LEXNAMES_MAN, target: Path | None = None
) -> Path:
    """Copy a WordNet 3.0 ``dict`` directory into ``target/corpora/wordnet``; returns that dir."""
    missing = [name for name in DICT_FILES if not (source / name).is_file()]
    if missing or not manpage.is_file():
        raise FileNotFoundError(
            f"no WordNet 3.0 database at {source} (missing {missing or [str(manpage)]}); "
            "install Debian/Ubuntu's wordnet-base and wordnet-sense-index packages"
        )
    corpus = (target or default_target()) / "corpora" / "wordnet"
    corpus.mkdir(parents=True, exist_ok=True)
    for name in DICT_FILES:
        shutil.copyfile(source / name, corpus / name)
    (corpus / "lexnames").write_text(lexnames_from_manpage(manpage), encoding="utf-8")
    load_wordnet.cache_clear()
    return corpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rftkit.graders.wordnet",
        description="Make WordNet 3.0 available to nltk offline (for the meteor metric).",
    )
    parser.add_argument("--source", type=Path, default=SYSTEM_DICT)
    parser.add_argument("--target", type=Path, default=None, help="an nltk_data directory")
    args = parser.parse_args(argv)
    corpus = install_from_system(args.source, target=args.target)
    reader = load_wordnet() if args.target is None else None
    synsets = len(list(reader.all_synsets())) if reader else "n/a"
    print(f"WordNet installed at {corpus} ({synsets} synsets)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
