"""Writes of the manager's calendar, one module per concern, re-exported here so callers say
`from calendar_app import services; services.post_schedule(...)`."""

from calendar_app.services.approvals import *  # noqa: F403
from calendar_app.services.calendar import *  # noqa: F403
from calendar_app.services.imports import *  # noqa: F403
from calendar_app.services.library import *  # noqa: F403
from calendar_app.services.posts import *  # noqa: F403
from calendar_app.services.slots import *  # noqa: F403
