import numpy as np

from modelmate.contamination.normalise import ngram_hashes, ngram_rows, normalise, word_hashes, words


def test_case_punctuation_markup_and_spacing_vanish_numbers_stay() -> None:
    plain = "Janet's ducks lay 16 eggs per day. She sells them for $2,000 each."
    styled = "**JANET’S   ducks** lay 16 eggs — per day!\n\n<|im_start|>She sells them for $2,000 each???"
    assert normalise(plain) == normalise(styled) == "janet ducks lay 16 eggs per day she sells them for 2 000 each"
    assert words("(A) Paris (B) London") == ["paris", "london"]  # one-letter labels are formatting
    assert normalise("She makes 9 * 2 = $<<9*2=18>>18 a day") == "she makes 9 2 18 day"
    assert words("日本語") == ["日", "本", "語"]  # scripts without spaces: one word per character
    assert normalise("ﬁle Ⅻ") == "file xii"  # NFKC


def test_ngram_hashes_are_stable_and_positional() -> None:
    h = word_hashes(["one", "two", "three", "four", "five", "six"])
    assert h.dtype == np.uint64 and len(set(h.tolist())) == 6
    grams = ngram_hashes(h, 3)
    assert len(grams) == 4 and len(set(grams.tolist())) == 4
    again = ngram_hashes(word_hashes(["zero", "one", "two", "three"]), 3)
    assert again[1] == grams[0]  # same words, same hash wherever they are
    swapped = ngram_hashes(word_hashes(["two", "one", "three"]), 3)
    assert swapped[0] != grams[0]  # order matters
    assert len(ngram_hashes(h, 7)) == 0
    starts, rows = ngram_rows(np.array([0, 0, 0, 1, 1, 1, 1]), 3)
    assert starts.tolist() == [0, 3, 4] and rows.tolist() == [0, 1, 1]  # no n-gram spans two rows
