"""TweetEval's normalisation: user mentions become ``@user`` and links become ``http``.

The same rule the TweetEval models were trained with (cardiffnlp's ``preprocess``), so a head
trained on TweetEval sees scored tweets the way it saw its training data. A head records whether
its training text was normalised, and scoring applies the same setting.
"""

from __future__ import annotations


def tweeteval_normalize(text: str) -> str:
    out = []
    for token in text.split(" "):
        if token.startswith("@") and len(token) > 1:
            token = "@user"
        elif token.startswith("http"):
            token = "http"
        out.append(token)
    return " ".join(out)
