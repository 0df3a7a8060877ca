"""Build the tiny demo dataset in ``examples/demo/``.

Why this exists: the README's first command should run end to end in
minutes on any machine, without downloading anything. This script writes a
small, balanced, three-class (negative / neutral / positive) set of
tweet-like posts that the project composed itself from the hand-written
building blocks below. It is synthetic, contains no external data, and is
released under CC0.

The output is deterministic (``random.Random(13)``, stdlib only), so running
it twice gives byte-identical files:

    python examples/make_demo.py

About 10% of posts use harder phrasing (negation such as "not bad at all" =
positive, "not great" = negative, or sentiment words inside neutral
questions), so a bag-of-words model should not reach 100% trivially.
"""

import csv
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "demo")
LABELS = ["negative", "neutral", "positive"]
PER_LABEL = {"train": 120, "val": 40}
HARD_RATE = 0.10
SCORE_ROWS = 300  # unlabelled posts for the demo's scoring stage

# topic -> (things people post about, hashtags)
TOPICS = {
    "food": (
        [
            "the new ramen place",
            "this pizza",
            "my lunch",
            "the coffee at work",
            "the bakery on main street",
            "grandma's soup recipe",
            "the taco truck",
        ],
        ["foodie", "lunch", "coffee"],
    ),
    "travel": (
        [
            "my flight to lisbon",
            "the hotel in rome",
            "this road trip",
            "the airport lounge",
            "our weekend in the mountains",
        ],
        ["travel", "wanderlust", "roadtrip"],
    ),
    "sports": (
        ["last night's match", "the home team", "the new coach", "the marathon route", "sunday's derby"],
        ["football", "matchday", "running"],
    ),
    "tech": (
        [
            "my new phone",
            "the latest software update",
            "this laptop battery",
            "the new earbuds",
            "the banking app",
            "my wifi router",
        ],
        ["tech", "android", "gadgets"],
    ),
    "weather": (
        [
            "the weather today",
            "this heatwave",
            "the morning fog",
            "the first snow of the year",
            "the forecast for the weekend",
        ],
        ["weather", "rain", "sunny"],
    ),
    "movies": (
        [
            "the new sci-fi movie",
            "the cinema downtown",
            "that documentary",
            "the season finale",
            "the director's cut",
        ],
        ["movies", "netflix", "cinema"],
    ),
    "music": (
        [
            "the new album",
            "the concert last night",
            "this playlist",
            "the opening band",
            "the festival lineup",
        ],
        ["music", "nowplaying", "livemusic"],
    ),
    "work": (
        ["the team meeting", "my commute", "the new office", "this project deadline", "the quarterly review"],
        ["work", "mondays", "office"],
    ),
    "school": (
        [
            "the chemistry exam",
            "my history teacher",
            "the school library",
            "this group assignment",
            "the campus cafeteria",
        ],
        ["school", "exams", "studying"],
    ),
    "pets": (
        ["my dog", "the neighbour's cat", "the vet visit", "the new puppy", "the dog park"],
        ["dogsofinstagram", "catlife", "pets"],
    ),
    "transport": (
        [
            "the 8:15 train",
            "the bus to the city centre",
            "the metro line 2",
            "the new bike lanes",
            "the night bus",
        ],
        ["commute", "transit", "publictransport"],
    ),
    "shopping": (
        ["my online order", "the mall", "the new sneakers", "the customer service desk", "the weekend sale"],
        ["shopping", "sale", "haul"],
    ),
    "games": (
        [
            "the new game patch",
            "this boss fight",
            "the online servers",
            "the co-op mode",
            "the latest expansion",
        ],
        ["gaming", "gamer", "twitch"],
    ),
    "health": (
        ["my morning run", "the yoga class", "the new gym", "the dentist appointment", "my sleep schedule"],
        ["fitness", "health", "wellness"],
    ),
    "news": (
        [
            "the city council vote",
            "the new recycling rules",
            "the election debate",
            "the budget announcement",
            "the library opening hours",
        ],
        ["news", "localnews", "citycouncil"],
    ),
}

TEMPLATES = {
    "negative": [
        "{t} was a total letdown",
        "ugh, {t} is the worst",
        "so disappointed with {t}",
        "{t} ruined my whole day",
        "honestly {t} made me so angry",
        "why is {t} always this bad",
        "cannot believe how awful {t} was",
        "wasted my money and my evening on {t}",
        "never again. {t} was terrible",
        "{t} keeps letting me down every single time",
        "fed up with {t}, seriously",
        "complained about {t} three times and nobody cares",
        "{t} is broken again",
        "what a mess {t} turned out to be",
        "{t} is overpriced and boring",
    ],
    "neutral": [
        "{t} starts at {time} today",
        "does anyone know when {t} opens?",
        "reminder: {t} is on {day}",
        "just read an article about {t}",
        "{t} has been moved to {day}",
        "heading to check out {t} later",
        "update on {t}, details at the link",
        "{t} is scheduled for {day} at {time}",
        "anyone else going to {t} on {day}?",
        "thinking about writing a short post on {t}",
        "here is the timetable for {t}",
        "my cousin asked me about {t} today",
        "{t} will be discussed on {day}",
        "taking notes on {t} for tomorrow",
        "quick question: what time does {t} finish?",
    ],
    "positive": [
        "loving {t} so much",
        "{t} made my day",
        "huge thanks to everyone behind {t}",
        "{t} was absolutely amazing",
        "can't wait to enjoy {t} again",
        "so happy with {t}, best decision this year",
        "{t} is pure joy",
        "really grateful for {t} today",
        "{t} exceeded all my expectations",
        "wow, {t} was fantastic",
        "{t} is the highlight of my week",
        "big shoutout to {t}, brilliant as always",
        "still smiling about {t}",
        "{t} was worth every penny",
        "thank you for {t}, it never disappoints",
    ],
}

# Harder phrasings: negation and sentiment words in a neutral frame.
HARD_TEMPLATES = {
    "negative": [
        "{t} was not great",
        "not impressed by {t}",
        "{t} isn't worth it",
        "wouldn't recommend {t} to anyone",
        "expected a lot more from {t}, not good",
        "{t} was supposed to be amazing but it wasn't",
        "can't say i enjoyed {t}",
    ],
    "neutral": [
        "poll: was {t} good or bad? vote below",
        "is {t} worth it? asking before i decide",
        "no opinion yet on {t}, trying it on {day}",
        "some say {t} is great, some say awful, thoughts?",
        "reviews of {t} are mixed, reading them now",
    ],
    "positive": [
        "{t} was not bad at all",
        "honestly can't complain about {t}",
        "never had a single problem with {t}",
        "didn't expect to like {t} but i really do",
        "{t} wasn't the disaster everyone predicted, loved it",
        "no regrets about {t}",
    ],
}

OPENERS = [
    "",
    "",
    "",
    "ok so ",
    "honestly ",
    "lol ",
    "update: ",
    "just saying, ",
    "today: ",
    "fyi ",
    "hmm ",
    "well ",
]
CLOSERS = [
    "",
    "",
    "",
    " today",
    " this week",
    " again",
    " tbh",
    " as usual",
    " if you ask me",
    " for the record",
]
TIMES = ["9am", "10:30", "noon", "2pm", "6:45pm", "8pm"]
DAYS = ["monday", "tuesday", "friday", "saturday", "sunday", "next week"]
USERS = ["@mia_k", "@dan_tweets", "@citynews", "@jo_runs", "@techguy88", "@sam", "@lena.p"]
EMOJI = {
    "negative": ["😡", "😤", "😞", "👎", "🙄"],
    "neutral": ["🙂", "📅", "🤔", "📰", "👀"],
    "positive": ["😍", "🥳", "❤️", "🙌", "😊"],
}
CASUAL = [
    ("you", "u"),
    ("really", "rly"),
    ("though", "tho"),
    ("people", "ppl"),
    ("tonight", "tonite"),
    ("because", "bc"),
    ("thanks", "thx"),
]
LINK_CHARS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def compose(rng, label):
    """Compose one tweet-like post for ``label``."""
    topic = rng.choice(sorted(TOPICS))
    things, tags = TOPICS[topic]
    pool = HARD_TEMPLATES if rng.random() < HARD_RATE else TEMPLATES
    body = rng.choice(pool[label]).format(t=rng.choice(things), time=rng.choice(TIMES), day=rng.choice(DAYS))
    text = rng.choice(OPENERS) + body + rng.choice(CLOSERS)
    if rng.random() < 0.25:
        text = rng.choice(USERS) + " " + text
    if label != "neutral" and rng.random() < 0.35:
        text += "!" * rng.randint(1, 3)
    if rng.random() < 0.4:
        text += " #" + rng.choice(tags)
    if rng.random() < 0.15:
        text += " #" + rng.choice(tags + ["mood", "life", "random"])
    if rng.random() < 0.35:
        # mostly label-matching emoji, sometimes a neutral one
        src = EMOJI[label] if rng.random() < 0.75 else EMOJI["neutral"]
        text += " " + rng.choice(src)
    if rng.random() < 0.15:
        text += " https://t.co/" + "".join(rng.choice(LINK_CHARS) for _ in range(8))
    if rng.random() < 0.3:
        words = [dict(CASUAL).get(w, w) for w in text.split(" ")]
        text = " ".join(words)
    if rng.random() < 0.5:
        text = text[0].upper() + text[1:]
    return " ".join(text.split())


def generate(rng):
    """Return {label: [unique texts]} with enough rows for every split."""
    need = sum(PER_LABEL.values())
    seen, out = set(), {lab: [] for lab in LABELS}
    for label in LABELS:
        tries = 0
        while len(out[label]) < need:
            tries += 1
            if tries > 100000:
                raise RuntimeError("could not generate enough unique posts for " + label)
            text = compose(rng, label)
            key = text.lower()
            if key in seen or not 5 <= len(text.split()) <= 40:
                continue
            seen.add(key)
            out[label].append(text)
    return out


def write_split(name, rows):
    path = os.path.join(OUT_DIR, name + ".csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "text", "label"])
        for i, (text, label) in enumerate(rows, 1):
            w.writerow(["demo-%s-%04d" % (name, i), text, label])
    return path


def write_unlabelled(pools, n):
    """``score.csv``: posts to score, without labels, made with a second seed after train and val,
    so the labelled splits stay as they were."""
    rng = random.Random(14)
    seen = {t.lower() for texts in pools.values() for t in texts}
    rows = []
    while len(rows) < n:
        text = compose(rng, LABELS[len(rows) % len(LABELS)])
        if text.lower() not in seen and 5 <= len(text.split()) <= 40:
            seen.add(text.lower())
            rows.append(text)
    rng.shuffle(rows)
    path = os.path.join(OUT_DIR, "score.csv")
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "text"])
        for i, text in enumerate(rows, 1):
            w.writerow(["demo-score-%04d" % i, text])
    return path


def main():
    rng = random.Random(13)
    os.makedirs(OUT_DIR, exist_ok=True)
    pools = generate(rng)
    splits = {name: [] for name in PER_LABEL}
    for label in LABELS:
        texts = pools[label]
        rng.shuffle(texts)
        start = 0
        for name, n in PER_LABEL.items():
            splits[name].extend((t, label) for t in texts[start : start + n])
            start += n
    for name, rows in splits.items():
        rng.shuffle(rows)
        print("wrote", write_split(name, rows), len(rows), "rows")
    print("wrote", write_unlabelled(pools, SCORE_ROWS), SCORE_ROWS, "rows")
    with open(os.path.join(OUT_DIR, "mapping.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("".join("%d\t%s\n" % (i, lab) for i, lab in enumerate(LABELS)))

    def counts(name):
        return ", ".join("%s %d" % (lab, PER_LABEL[name]) for lab in LABELS)

    readme = [
        "# Demo dataset",
        "",
        "A tiny three-class sentiment set of tweet-like short posts (negative / neutral / positive),",
        "small enough for the README's first command to run end to end in minutes.",
        "Synthetic: written by this project, generated by `python examples/make_demo.py`",
        "(deterministic, seed 13). No external data. License: CC0.",
        "",
        "- `train.csv`: %d rows (%s)" % (len(splits["train"]), counts("train")),
        "- `val.csv`: %d rows (%s)" % (len(splits["val"]), counts("val")),
        "- `score.csv`: %d unlabelled rows (`id,text`) for the scoring stage" % SCORE_ROWS,
        "- Columns `id,text,label`; `mapping.txt` maps class ids to labels.",
    ]
    with open(os.path.join(OUT_DIR, "README.md"), "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(readme) + "\n")


if __name__ == "__main__":
    main()
