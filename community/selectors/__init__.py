"""Reads of the community app, one module per concern, re-exported here."""

from community.selectors.curation import *  # noqa: F403
from community.selectors.giveaways import *  # noqa: F403
from community.selectors.health import *  # noqa: F403
from community.selectors.inbox import *  # noqa: F403
from community.selectors.listening import *  # noqa: F403
from community.selectors.workflow import *  # noqa: F403
