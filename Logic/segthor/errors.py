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


class OutputError(SegthorError):
    """An output that cannot be written (read-only folder, full disk, a file where a folder should be)."""


class OverwriteRefusedError(InputError):
    """Outputs already exist and replacing them was not asked for.

    The message names the option in the words of whoever reads it: ``overwrite=True`` from the Python API,
    ``--overwrite`` on the command line, which sets ``OverwriteRefusedError.option`` when it starts (so batch
    rows and progress lines say it the same way).
    """

    option = "overwrite=True"

    def __init__(self, problem: str, alternatives: str = "choose another output folder") -> None:
        self.problem = problem
        self.alternatives = alternatives
        super().__init__(problem)

    def worded(self, option: str) -> str:
        return f"{self.problem}; {self.alternatives}, or pass {option} to replace it"

    def __str__(self) -> str:
        return self.worded(type(self).option)


def brief(exc: BaseException, limit: int = 300) -> str:
    """A library exception's message as one short line, for the end of a user-facing error.

    SimpleITK's messages span several lines and start with its own source path ("Exception thrown in
    SimpleITK ImageFileReader_Execute: /.../sitkImageReaderBase.cxx:99: sitk::ERROR: ..."); only the text after
    the last "ERROR:" says what is wrong. Whitespace runs (newlines included) become one space; the result is
    cut at `limit` characters.
    """
    text = str(exc).strip() or type(exc).__name__
    if "ERROR:" in text:
        text = text.rsplit("ERROR:", 1)[1]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def one_line(message: str) -> str:
    """`message` with every whitespace run that holds a line break turned into one space (CLI errors are one line)."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())
