"""A cheap guess at whether a text is English, from scripts, function words and, for languages without
a word list here, py3langid's character n-gram model (shipped in its wheel; nothing is downloaded).

The rules are written for English; run on German or Japanese copy they would be silent or wrong, so the
engine reports "language not supported" instead. The guess only says "not English" on positive
evidence — a non-Latin script, another language's function words, or the model sure of another
language (p ≥ 0.99) in a text with hardly any English function words — so short English product
names and lists of nouns stay English.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")

ENGLISH = frozenset(
    "the a an and or but of to in on at by for with from into onto over under about as is are was were be "
    "been being am it its this that these those there here what which who whom whose when where why how "
    "you your yours we our us i me my he him his she her they them their not no nor do does did don't "
    "can can't will won't would should could may might must have has had just only now then than so if "
    "all any each every some more most very also too up out off new get got our".split()
)

# The commonest function words of the languages marketing teams most often write in. Words that are
# also English ("a", "in", "die", "is") are left out so they cannot vote against English.
OTHER = {
    "de": frozenset(
        "der das und ist nicht mit für sie ein eine einen dem den des auf zu ich wir sind auch noch nur "
        "jetzt oder aber wie bei aus nach sich ihr ihre unsere werden wird hier heute kostenlos".split()
    ),
    "fr": frozenset(
        "le la les et est des une un pour avec vous nous dans sur pas ce cette qui que du au aux sont "
        "votre vos notre nos ou mais très plus être avoir aujourd'hui gratuit".split()
    ),
    "es": frozenset(
        "el la los las y es en de para con que una un por su sus del al más está son tu tus nuestro "
        "nuestra muy pero como hoy gratis ahora".split()
    ),
    "it": frozenset(
        "il lo la gli le e è di per con che una un non sono del della più questo questa tuo tua nostro "
        "nostra molto ma come oggi gratis ora".split()
    ),
    "nl": frozenset(
        "de het een en van voor met niet op ik je zijn dat wij ook jouw onze maar hoe vandaag gratis nu "
        "deze wordt worden bij".split()
    ),
    "pt": frozenset(
        "o os as e é de para com que uma um não do da em seu sua mais são você nosso nossa muito mas "
        "como hoje grátis agora".split()
    ),
}
# Words shared with English never count for another language.
OTHER = {code: words - ENGLISH for code, words in OTHER.items()}

_LATIN = "LATIN"
# Inverted marks open Spanish exclamations and questions ("¡Solo hoy!") and nothing else.
_SPANISH_MARKS = re.compile("[¡¿]")
# The n-gram model decides only when it is this sure, and English function words are under a fifth of
# the words: on the 5,229 English dev texts it is never this sure of another language for a Latin text.
MODEL_CONFIDENCE = 0.99
ENGLISH_SHARE = 0.2


@cache
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def guess_language(text: str) -> str:
    """'en', another ISO code, 'und' (a non-Latin script we cannot name), or 'en' when unsure."""
    letters = [char for char in text if char.isalpha()]
    if len(letters) >= 4:
        latin = sum(1 for char in letters if unicodedata.name(char, "").startswith(_LATIN))
        if latin / len(letters) < 0.5:
            return "und"
    words = [word.lower().replace("\u2019", "'") for word in _WORD.findall(text)]
    if len(words) < 4:
        return "en"
    english = sum(1 for word in words if word in ENGLISH)
    best_code, best = "en", 0
    for code, vocabulary in OTHER.items():
        hits = sum(1 for word in words if word in vocabulary)
        if code == "es":
            hits += len(_SPANISH_MARKS.findall(text))
        if hits > best:
            best_code, best = code, hits
    if best >= 2 and best > 2 * english:
        return best_code
    if english < ENGLISH_SHARE * len(words):
        code, confidence = _identifier().classify(text)
        if code != "en" and confidence >= MODEL_CONFIDENCE:
            return code
    return "en"
