"""Writes of the community app, one module per concern, re-exported here."""

from community.services.curation import *  # noqa: F403
from community.services.giveaways import *  # noqa: F403
from community.services.health import *  # noqa: F403
from community.services.inbox import *  # noqa: F403
from community.services.listening import *  # noqa: F403
from community.services.workflow import *  # noqa: F403
