"""The official VQA answer normalisation, rule for rule.

VQA accuracy compares a predicted answer with ten human answers *after* both
went through the evaluation code's text processing (GT-Vision-Lab/VQA,
``vqaEval.py``: ``processPunctuation`` then ``processDigitArticle``). The
numbers only match the official ones if that processing is reproduced exactly,
bugs included, so the quirks below are deliberate and each one is commented:

* the punctuation decision for a character looks at the *original* text, and a
  single ``digit,digit`` anywhere switches every character to "delete";
* the period rule only deletes ``.`` not followed by a digit (``"2.5"`` keeps
  its point) and deletes at most 32 of them, because the official code passes
  ``re.UNICODE`` (== 32) where ``re.sub`` expects its ``count`` argument;
* contractions are looked up *after* lower-casing, so the table's capitalised
  keys (``Im``, ``Ive``, ``Id've``, ``I'dve``) can never match;
* one entry maps the other way round (``somebody'd`` -> ``somebodyd``).

``normalize_answer`` is what the official code does to a prediction: newlines
and tabs become spaces, the text is stripped, then punctuation, then digits,
articles and contractions. The two steps are public on their own because the
older (2015-2020) evaluation applies only the punctuation step to human
answers (see ``vqadesk.metrics.vqa_accuracy``).
"""

from __future__ import annotations

import re

__all__ = [
    "ARTICLES",
    "CONTRACTIONS",
    "NUMBER_WORDS",
    "PUNCTUATION",
    "clean_whitespace",
    "normalize_answer",
    "process_digit_article",
    "process_punctuation",
]

# Characters the punctuation step deletes or turns into a space. Apostrophe,
# colon, '%', '&', '*', '#', '$' and '~' are absent on purpose (official list).
PUNCTUATION: tuple[str, ...] = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-",
    ">", "<", "@", "`", ",", "?", "!",
)

# A comma between two digits ("1,000"): its presence anywhere in the text makes
# the punctuation step delete every listed character instead of spacing it.
_DIGIT_COMMA_DIGIT = re.compile(r"(\d)(,)(\d)")

# A period not followed by a digit. (The official pattern also starts with
# "(?!<=\d)", a mistyped look-behind that is really a look-ahead for the text
# "<=digit" and can never fire in front of a '.', so it is left out here.)
# ``\d`` is Unicode-aware, as in the official Python 3 code.
_PERIOD_NOT_BEFORE_DIGIT = re.compile(r"\.(?!\d)")

# The official code calls periodStrip.sub("", text, re.UNICODE): the flag lands
# in the ``count`` parameter, so only the first 32 matching periods go.
_OFFICIAL_PERIOD_LIMIT = int(re.UNICODE)  # 32

NUMBER_WORDS: dict[str, str] = {
    "none": "0",  # "none" counts as the number zero in the official map
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}

ARTICLES: frozenset[str] = frozenset({"a", "an", "the"})

# The official contraction table, one "written -> normalised" pair per line.
# Kept as text so it is easy to compare against the official list by eye.
_CONTRACTION_TABLE = """
aint ain't | arent aren't | cant can't | couldve could've | couldnt couldn't
couldn'tve couldn't've | couldnt've couldn't've | didnt didn't | doesnt doesn't
dont don't | hadnt hadn't | hadnt've hadn't've | hadn'tve hadn't've | hasnt hasn't
havent haven't | hed he'd | hed've he'd've | he'dve he'd've | hes he's | howd how'd
howll how'll | hows how's | Id've I'd've | I'dve I'd've | Im I'm | Ive I've
isnt isn't | itd it'd | itd've it'd've | it'dve it'd've | itll it'll | let's let's
maam ma'am | mightnt mightn't | mightnt've mightn't've | mightn'tve mightn't've
mightve might've | mustnt mustn't | mustve must've | neednt needn't | notve not've
oclock o'clock | oughtnt oughtn't | ow's'at 'ow's'at | 'ows'at 'ow's'at
'ow'sat 'ow's'at | shant shan't | shed've she'd've | she'dve she'd've | she's she's
shouldve should've | shouldnt shouldn't | shouldnt've shouldn't've
shouldn'tve shouldn't've | somebody'd somebodyd | somebodyd've somebody'd've
somebody'dve somebody'd've | somebodyll somebody'll | somebodys somebody's
someoned someone'd | someoned've someone'd've | someone'dve someone'd've
someonell someone'll | someones someone's | somethingd something'd
somethingd've something'd've | something'dve something'd've
somethingll something'll | thats that's | thered there'd | thered've there'd've
there'dve there'd've | therere there're | theres there's | theyd they'd
theyd've they'd've | they'dve they'd've | theyll they'll | theyre they're
theyve they've | twas 'twas | wasnt wasn't | wed've we'd've | we'dve we'd've
weve we've | werent weren't | whatll what'll | whatre what're | whats what's
whatve what've | whens when's | whered where'd | wheres where's | whereve where've
whod who'd | whod've who'd've | who'dve who'd've | wholl who'll | whos who's
whove who've | whyll why'll | whyre why're | whys why's | wont won't
wouldve would've | wouldnt wouldn't | wouldnt've wouldn't've
wouldn'tve wouldn't've | yall y'all | yall'll y'all'll | y'allll y'all'll
yall'd've y'all'd've | y'alld've y'all'd've | y'all'dve y'all'd've | youd you'd
youd've you'd've | you'dve you'd've | youll you'll | youre you're | youve you've
"""


def _parse_contractions(table: str) -> dict[str, str]:
    pairs = (entry.split() for entry in table.replace("\n", "|").split("|") if entry.strip())
    return {written: normalised for written, normalised in pairs}


CONTRACTIONS: dict[str, str] = _parse_contractions(_CONTRACTION_TABLE)


def clean_whitespace(text: str) -> str:
    """Newlines and tabs to spaces, then strip (the first official step).

    Only ``\\n`` and ``\\t`` are replaced; ``\\r`` and other whitespace are left
    to ``strip()`` at the ends and to ``split()`` in the word step.
    """
    return text.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(text: str) -> str:
    """The official ``processPunctuation``.

    For each listed character: if the original text has it followed or
    preceded by a space, or contains a digit-comma-digit anywhere, delete it
    everywhere; otherwise replace it by a space everywhere. Then delete the
    first 32 periods that are not followed by a digit.
    """
    has_digit_comma_digit = _DIGIT_COMMA_DIGIT.search(text) is not None
    result = text
    for char in PUNCTUATION:
        # The test reads ``text`` (the input), never ``result``: a space left
        # by an earlier character does not change the fate of a later one.
        if char + " " in text or " " + char in text or has_digit_comma_digit:
            result = result.replace(char, "")
        else:
            result = result.replace(char, " ")
    return _PERIOD_NOT_BEFORE_DIGIT.sub("", result, count=_OFFICIAL_PERIOD_LIMIT)


def process_digit_article(text: str) -> str:
    """The official ``processDigitArticle``.

    Lower-case, split on any whitespace, map number words (and "none") to
    digits, drop articles, then expand contractions; join with single spaces.
    Articles are dropped *after* the number map, and contractions looked up
    after lower-casing (so capitalised table keys never match).
    """
    words = []
    for word in text.lower().split():
        word = NUMBER_WORDS.get(word, word)
        if word not in ARTICLES:
            words.append(CONTRACTIONS.get(word, word))
    return " ".join(words)


def normalize_answer(text: str) -> str:
    """The full official processing of a predicted answer.

    >>> normalize_answer("Two dogs!")
    '2 dogs'
    >>> normalize_answer("  The\\tDont ")
    "don't"
    """
    return process_digit_article(process_punctuation(clean_whitespace(text)))
