"""The Python half of the example: ordinary code, with no knowledge of Java."""

import collections
import re


def _words(text):
    return re.findall(r"[a-z']+", text.lower())


def word_count(text):
    return len(_words(text))


def top_words(text, n):
    """The n most common words with their counts, as (word, count) pairs."""
    return collections.Counter(_words(text)).most_common(n)


def check(text):
    if not text:
        raise ValueError("empty document")
    return text
