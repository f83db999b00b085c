"""Seeded, pronounceable company names, slugs and ticker-like ids.

Names come from syllable lists drawn with the world's own ``random.Random``, so every seed
casts different companies and worlds from other seeds work as unseen held-out worlds.
"""

import random
import re
import string

ONSETS = (
    "Bel", "Bran", "Cal", "Cor", "Dal", "Dra", "Ell", "Esk", "Fal", "Fen",
    "Gar", "Hal", "Hes", "Ith", "Jor", "Kal", "Kes", "Lor", "Lum", "Mar",
    "Mer", "Nev", "Nor", "Orv", "Ost", "Pel", "Pra", "Quin", "Ros", "Sel",
    "Tal", "Tor", "Val", "Ver", "Vor", "Wyn", "Yar", "Zan", "Zel", "Ulm",
)  # fmt: skip
LINKS = ("", "a", "e", "i", "o")
CODAS = (
    "bury", "cor", "dex", "gard", "lan", "lia", "mir", "mont", "nix",
    "ris", "rix", "sen", "tas", "ton", "tra", "vale", "via", "wick",
)  # fmt: skip
# Appended to an existing name to create a near-identical, different company.
TWIN_SUFFIXES = ("Group", "Holdings", "Partners")


def make_stem(rng: random.Random) -> str:
    """One invented word such as 'Norvale' (4-9 ASCII letters)."""
    return rng.choice(ONSETS) + rng.choice(LINKS) + rng.choice(CODAS)


def slugify(name: str) -> str:
    """Directory-safe name: lowercase ASCII words joined by hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def make_ticker(stem: str, last_word: str, taken: set[str]) -> str:
    """Four-letter id: stem prefix plus the last word's initial, else the first free letter."""
    prefix = stem[:3].upper()
    for letter in last_word[0].upper() + string.ascii_uppercase:
        if prefix + letter not in taken:
            return prefix + letter
    raise ValueError(f"no free ticker for prefix {prefix!r}; use fewer companies")
