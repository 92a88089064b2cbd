"""Reads of the marketer's side, one module per concern, re-exported here."""

from ads.selectors.campaigns import *  # noqa: F403
from ads.selectors.influencers import *  # noqa: F403
from ads.selectors.insights import *  # noqa: F403
from ads.selectors.links import *  # noqa: F403
