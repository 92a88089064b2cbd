"""Writes of reports, goals and the client portal, one module per concern, re-exported here."""

from reports.services.analytics import *  # noqa: F403
from reports.services.exports import *  # noqa: F403
from reports.services.goals import *  # noqa: F403
from reports.services.portal import *  # noqa: F403
