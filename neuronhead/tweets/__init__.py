"""Tweets as they come: Twitter/X API v1.1 and v2 records, dumps, and TweetEval's normalisation."""

from neuronhead.tweets.normalize import tweeteval_normalize
from neuronhead.tweets.reader import Problem, is_tweet_file, read_tweets
from neuronhead.tweets.records import RecordError, Tweet, parse_record

__all__ = [
    "Problem",
    "RecordError",
    "Tweet",
    "is_tweet_file",
    "parse_record",
    "read_tweets",
    "tweeteval_normalize",
]
