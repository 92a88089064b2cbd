"""Writes of the marketer's side, one module per concern, re-exported here."""

from ads.services.campaigns import *  # noqa: F403
from ads.services.influencers import *  # noqa: F403
from ads.services.insights import *  # noqa: F403
from ads.services.links import *  # noqa: F403
