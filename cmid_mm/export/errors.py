"""The error of checkpoint export and conversion."""


class ConversionError(RuntimeError):
    """A checkpoint cannot be converted; the message says what was found."""
