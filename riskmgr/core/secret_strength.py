"""A simple, conservative strength estimate for the secrets the operator configures (API token, admin password).

The estimate is the cost, in bits, of the cheapest description of the secret an attacker's guesser would try:
the secret is split into pieces and each piece is priced by the cheapest of

- one character: log2 of the alphabet its character classes span (lower 26, upper 26, digits 10, symbols 33,
  anything else 100);
- a run such as ``aaaa``, ``abcd``, ``4321``: one character plus the run's length;
- a repeat of something earlier in the secret (``abcabc``, ``Xy7!Xy7!``): where it was and how long;
- a common password or word from the small built-in list below (also in l33t spelling): that list's size;
- a lower-case word standing alone (a passphrase word): ``WORD_BITS``, the size of a large vocabulary.

The cheapest split is found by dynamic programming. No list is downloaded; the estimate is deliberately simple
and on the low side, so a random secret passes by a wide margin and a patterned one fails.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterator

from riskmgr.core.errors import ConfigError

TOKEN_MIN_BITS = 128
PASSWORD_MIN_BITS = 60
WORD_BITS = 15.0  # a word from a ~32,000-word vocabulary: four random words make ~77 bits with separators
MAX_SCORED = 128  # characters scored; a longer secret is judged by its first 128 (a strong one is far shorter)
GENERATE_HINT = 'generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'

COMMON = frozenset((
    "password", "passwd", "passw0rd", "pass", "secret", "letmein", "welcome", "admin", "administrator", "root",
    "login", "logon", "user", "guest", "default", "changeme", "change", "test", "testing", "tester", "demo",
    "example", "sample", "token", "apikey", "access", "master", "qwerty", "qwertz", "azerty", "qwertyuiop",
    "asdf", "asdfgh", "asdfghjkl", "zxcv", "zxcvbn", "zxcvbnm", "qazwsx", "wsxedc", "1qaz", "2wsx", "iloveyou",
    "trustno1", "dragon", "monkey", "shadow", "sunshine", "princess", "football", "baseball", "soccer",
    "hockey", "superman", "batman", "starwars", "hello", "freedom", "whatever", "michael", "charlie", "jordan",
    "hunter", "ranger", "buster", "killer", "pepper", "ginger", "summer", "winter", "spring", "autumn",
    "flower", "computer", "internet", "server", "secure", "security", "private", "riskmgr", "risk", "manager",
    "trading", "trader", "trade", "bitcoin", "crypto", "binance", "bitget", "bitunix", "futures", "money",
    "profit", "heroku", "replit", "flask", "python", "django", "abc", "abcd", "abcdef", "xyz",
))
_LEET = str.maketrans("0134578@$!|", "oieastbasil")
_SYMBOLS = set(string.punctuation + " ")
_LONGEST_COMMON = max(len(w) for w in COMMON)
_WORDS = re.compile(r"(?<![A-Za-z])[A-Za-z][a-z]{2,11}(?![A-Za-z])")


def alphabet_size(secret: str) -> int:
    """Return the size of the alphabet spanned by the character classes ``secret`` uses."""
    size = 0
    size += 26 if any(c in string.ascii_lowercase for c in secret) else 0
    size += 26 if any(c in string.ascii_uppercase for c in secret) else 0
    size += 10 if any(c in string.digits for c in secret) else 0
    size += 33 if any(c in _SYMBOLS for c in secret) else 0
    size += 100 if any(not c.isascii() or not c.isprintable() for c in secret) else 0
    return max(size, 2)


def estimate_bits(secret: str) -> float:
    """Return the estimated strength of ``secret`` in bits (see the module docstring)."""
    s = secret[:MAX_SCORED]
    n = len(s)
    if n == 0:
        return 0.0
    per_char = math.log2(alphabet_size(s))
    words = {m.start(): m.end() for m in _WORDS.finditer(s)}
    common = _common_spans(s)
    best = [0.0] + [math.inf] * n
    for i in range(n):
        here = best[i]
        best[i + 1] = min(best[i + 1], here + per_char)
        for end, cost in _pieces(s, i, per_char, words, common):
            best[end] = min(best[end], here + cost)
    return best[n]


def _pieces(
    s: str, i: int, per_char: float, words: dict[int, int], common: dict[int, list[int]]
) -> Iterator[tuple[int, float]]:
    """Yield (end, cost) of every multi-character piece that starts at ``i``."""
    run = _run_end(s, i)
    for end in range(i + 3, run + 1):
        yield end, per_char + math.log2(end - i)
    for length in _repeat_lengths(s, i):
        yield i + length, math.log2(i + 1) + math.log2(length) + 1
    for end in common.get(i, ()):
        yield end, math.log2(len(COMMON)) + (0 if s[i:end].islower() else 1)
    if i in words:
        yield words[i], min(WORD_BITS, (words[i] - i) * per_char)


def _run_end(s: str, i: int) -> int:
    """Return where the run (step -1, 0 or +1 in character code) that starts at ``i`` ends."""
    if i + 1 >= len(s):
        return i + 1
    step = ord(s[i + 1]) - ord(s[i])
    if step not in (-1, 0, 1):
        return i + 1
    end = i + 2
    while end < len(s) and ord(s[end]) - ord(s[end - 1]) == step:
        end += 1
    return end


def _repeat_lengths(s: str, i: int) -> list[int]:
    """Return the lengths (>= 3) of the longest earlier copies of the text that starts at ``i``."""
    longest = 0
    for j in range(i):
        k = 0
        while i + k < len(s) and s[j + k] == s[i + k]:
            k += 1
        longest = max(longest, k)
    return list(range(3, longest + 1))


def _common_spans(s: str) -> dict[int, list[int]]:
    """Return, per start index, the end indexes of the common words found there (case and l33t folded)."""
    folded = s.lower().translate(_LEET)
    lowered = s.lower()
    spans: dict[int, list[int]] = {}
    for i in range(len(s)):
        for end in range(i + 3, min(len(s), i + _LONGEST_COMMON) + 1):
            if folded[i:end] in COMMON or lowered[i:end] in COMMON:
                spans.setdefault(i, []).append(end)
    return spans


def check_secret(name: str, secret: str, min_bits: int, advice: str = GENERATE_HINT) -> None:
    """Raise ConfigError naming ``name`` (never the value) when ``secret`` is weaker than ``min_bits``."""
    bits = estimate_bits(secret)
    if bits < min_bits:
        raise ConfigError(
            f"{name} is too weak: about {bits:.0f} bits by a simple estimate, at least {min_bits} needed "
            "(repeated characters, runs like abc or 123, repeated patterns and common words count for little); "
            f"{advice} (the value is not shown)"
        )
