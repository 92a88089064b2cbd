"""Reads of the manager's calendar, one module per concern, re-exported here."""

from calendar_app.selectors.approvals import *  # noqa: F403
from calendar_app.selectors.calendar import *  # noqa: F403
from calendar_app.selectors.imports import *  # noqa: F403
from calendar_app.selectors.library import *  # noqa: F403
from calendar_app.selectors.posts import *  # noqa: F403
from calendar_app.selectors.slots import *  # noqa: F403
