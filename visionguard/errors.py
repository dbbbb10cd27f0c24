"""Exceptions that carry a user-facing message.

`VisionGuardError` is a mistake the user can fix (missing folder, empty gallery, wrong
index): the CLI prints its message as one line and exits with code 2, no traceback.
`DecodeError` is a bad input image: the scan records it as an error line and goes on.
"""


class VisionGuardError(Exception):
    """A user error with a one-sentence, actionable message."""


class GalleryError(VisionGuardError):
    """The gallery folder cannot be indexed."""


class IndexLoadError(VisionGuardError):
    """The index folder is missing, corrupt or was built by another model."""


class DecodeError(Exception):
    """An input file is not a usable image."""
