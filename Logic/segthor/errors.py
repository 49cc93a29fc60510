"""User-facing error types.

Every error a user can fix (bad input file, wrong geometry, missing model) is a `SegthorError` whose message
says what is wrong and what to do; the CLI prints it without a traceback and exits with code 2.
"""


class SegthorError(Exception):
    """A problem with the user's input or environment, with a message that says how to fix it."""


class InputError(SegthorError):
    """An input file, volume or argument that cannot be used as given."""


class ModelError(SegthorError):
    """A model package that is missing, corrupt or incompatible."""


class CancelledError(SegthorError):
    """The user cancelled a running job; nothing was changed."""


class ProcessError(SegthorError):
    """A segmentation child process failed; the message is the child's own one-line error."""
