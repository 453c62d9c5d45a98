"""Caption tokenisation for BLEU and CIDEr: a Python stand-in for the PTB tokenizer.

The COCO caption evaluation (pycocoevalcap) runs Stanford CoreNLP 3.4.1's
``PTBTokenizer -preserveLines -lowerCase`` in Java on every reference and
candidate, then drops the punctuation tokens ``'' ' `` ` -LRB- -RRB- -LCB-
-RCB- . ? ! , : - -- ... ;``. This module does the same job without Java:

1. newlines become spaces (the reference tool does this too), text is NFC
   normalised and lower-cased; curly quotes become straight ones, the
   ellipsis character becomes "...", en/em dashes become "--";
2. the text is cut into tokens: words (letters and digits, keeping inner
   hyphens, ampersands and apostrophes: "black-and-white", "at&t",
   "o'clock"), numbers with inner separators ("3.5", "1,000", "10:30",
   "1/2"), abbreviations with inner periods ("u.s.", "a.m."), runs of periods
   or dashes, and every other symbol on its own;
3. PTB's clitic splits: "don't" -> "do n't", "can't" -> "ca n't",
   "dog's" -> "dog 's", likewise 're 've 'll 'd 'm; "cannot" -> "can not",
   "gonna" -> "gon na", "gotta" -> "got ta", "wanna" -> "wan na";
4. punctuation tokens are dropped (the list above, plus brackets and quotes).

Known differences from PTBTokenizer (docs/metrics.md): PTB keeps "mr." and
other dotted abbreviations from its list as one token, keeps ".5" together,
turns "[" / "]" into "-LSB-" / "-RSB-" tokens that the tool does *not* drop,
and lower-cases with Java's rules. COCO captions rarely contain any of these;
for exact agreement feed both tools the same pre-tokenised text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["PUNCTUATION_TOKENS", "tokenize_for_evaluation"]

# What pycocoevalcap removes after PTB tokenisation, in the form our tokens
# take (PTB writes brackets as -LRB- etc. and quotes as `` ''), plus the
# brackets and quote characters themselves, which we leave unescaped.
PUNCTUATION_TOKENS: frozenset[str] = frozenset(
    {"''", "'", "``", "`", ".", "?", "!", ",", ":", "-", "--", "...", ";",
     '"', "(", ")", "{", "}", "[", "]"}
)

_CHARACTER_MAP = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u2032": "'",  # curly single quotes
        "\u201c": '"', "\u201d": '"', "\u201e": '"',                  # curly double quotes
        "\u2026": " ... ",                                            # ellipsis character
        "\u2013": " -- ", "\u2014": " -- ",                           # en and em dashes
        "\n": " ",
    }
)

_TOKEN = re.compile(
    r"""
      (?:[^\W\d_]\.){2,}                    # abbreviation with inner periods: u.s. a.m.
    | [^\W_]+                               # letters and digits ...
      (?: (?:['&-] | (?<=\d)[.,:/](?=\d))   # ... joined by ' & - or, between digits, . , : /
          [^\W_]+ )*
    | \.{2,} | -{2,}                        # "..." and "--" stay one token
    | [^\w\s] | _                           # any other symbol on its own
    """,
    re.VERBOSE,
)

# PTB splits these endings off as tokens of their own.
_CLITIC = re.compile(r"(.+?)(n't|'s|'re|'ve|'ll|'d|'m)")

# PTB splits these words in two.
_SPLIT_WORDS = {
    "cannot": ("can", "not"),
    "gonna": ("gon", "na"),
    "gotta": ("got", "ta"),
    "wanna": ("wan", "na"),
}


def _split_clitics(token: str) -> tuple[str, ...]:
    if token in _SPLIT_WORDS:
        return _SPLIT_WORDS[token]
    match = _CLITIC.fullmatch(token)
    if match:
        return match.group(1), match.group(2)
    return (token,)


def tokenize_for_evaluation(text: str) -> list[str]:
    """Lower-cased tokens of ``text`` with punctuation tokens removed.

    >>> tokenize_for_evaluation("A man's riding a horse, isn't he?")
    ['a', 'man', "'s", 'riding', 'a', 'horse', 'is', "n't", 'he']
    """
    text = unicodedata.normalize("NFC", text).lower().translate(_CHARACTER_MAP)
    tokens: list[str] = []
    for raw in _TOKEN.findall(text):
        for token in _split_clitics(raw):
            if token not in PUNCTUATION_TOKENS:
                tokens.append(token)
    return tokens
