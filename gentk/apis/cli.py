"""How the command-line tools end on bad input.

gentk's own checks (a missing data root, a mistyped config key, a label id
out of range, a checkpoint without generator weights) raise errors whose
message says what is wrong and what was expected. Raised from inside
mmengine's runner, that message ends a traceback of a few hundred lines.
``run_tool`` prints it alone, as ``error: ...`` on stderr with exit status
2, when the error was raised by gentk's own code; anything else (a bug, an
error deep in torch) keeps its full traceback. ``GENTK_DEBUG=1`` shows the
traceback of every error.
"""
import os
import os.path as osp
import sys
from typing import Callable, Optional

# The error types gentk's checks raise for bad input.
INPUT_ERRORS = (FileNotFoundError, NotADirectoryError, KeyError, ValueError,
                TypeError)
# Frames in these folders are gentk's: the package and the tools.
_GENTK_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
_OWN_DIRS = (_GENTK_DIR + os.sep,
             osp.join(osp.dirname(_GENTK_DIR), 'tools') + os.sep)
EXIT_BAD_INPUT = 2


def _raising_file(exc: BaseException) -> Optional[str]:
    """The source file of the frame that raised ``exc``."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    return osp.abspath(tb.tb_frame.f_code.co_filename)


def raised_by_gentk(exc: BaseException) -> bool:
    """Whether ``exc``, or an error it was raised from or while handling
    (mmengine's builders re-raise a component's error with its class name
    prepended), is an input error raised in gentk's own code."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        path = _raising_file(exc)
        if (isinstance(exc, INPUT_ERRORS) and path is not None
                and path.startswith(_OWN_DIRS)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def error_message(exc: BaseException) -> str:
    """The error's own text (``str(KeyError)`` would quote it)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc)


def run_tool(main: Callable[[], object]) -> None:
    """Run a tool's ``main``: an input error gentk raised ends the process
    with its message alone (exit status 2); any other error propagates with
    its traceback, as does every error under ``GENTK_DEBUG=1``."""
    try:
        result = main()
    except INPUT_ERRORS as exc:
        if os.environ.get('GENTK_DEBUG', '') not in ('', '0') \
                or not raised_by_gentk(exc):
            raise
        print(f'error: {error_message(exc)}\n'
              f'(a {type(exc).__name__}; set GENTK_DEBUG=1 for the traceback)',
              file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)
