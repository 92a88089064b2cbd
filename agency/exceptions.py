class ApplicationError(Exception):
    """A refusal the user can act on: the message is shown to them as it is.

    `fields` maps a field name to its messages, for forms and the API's `fields` object.
    """

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
