"""Reads of reports, goals and the client portal, one module per concern, re-exported here."""

from reports.selectors.analytics import *  # noqa: F403
from reports.selectors.exports import *  # noqa: F403
from reports.selectors.goals import *  # noqa: F403
from reports.selectors.portal import *  # noqa: F403
