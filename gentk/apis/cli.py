"""How the command-line tools end on bad input.

gentk's own checks (a missing data root, a mistyped config key, a label id
out of range, a checkpoint without generator weights) raise errors whose
message says what is wrong and what was expected; so does a config key
that the class it configures does not take (caught where mmengine's
builder calls the class). Raised from inside
mmengine's runner, that message ends a traceback of a few hundred lines.
``run_tool`` prints it alone, as ``error: ...`` on stderr with exit status
2, when the error was raised by gentk's own code (in this process or in a
DataLoader worker); anything else (a bug, an
error deep in torch) keeps its full traceback. ``GENTK_DEBUG=1`` shows the
traceback of every error.
"""
import gc
import os
import os.path as osp
import re
import sys
from typing import Callable, Optional, Tuple

# The error types gentk's checks raise for bad input.
INPUT_ERRORS = (FileNotFoundError, FileExistsError, NotADirectoryError, KeyError,
                ValueError, TypeError)
# Frames in these folders are gentk's: the package and the tools.
_GENTK_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
_OWN_DIRS = (_GENTK_DIR + os.sep,
             osp.join(osp.dirname(_GENTK_DIR), 'tools') + os.sep)
EXIT_BAD_INPUT = 2
# mmengine's builders call a registered class with the config's keys: a key
# the class does not take (a typo in a config or --cfg-options) fails there.
_BUILDER = osp.join('mmengine', 'registry', 'build_functions.py')
_BAD_CONFIG_KEYS = re.compile(r'^(?:\w+\.)?__init__\(\) (got an unexpected '
                              r'keyword argument|missing \d+ required)')


def _is_own(path: str) -> bool:
    return osp.abspath(path).startswith(_OWN_DIRS)


def _raising_frame(exc: BaseException):
    """The frame that raised ``exc`` (its innermost)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return None if tb is None else tb.tb_frame


def _raising_file(exc: BaseException) -> Optional[str]:
    """The source file of the frame that raised ``exc``."""
    frame = _raising_frame(exc)
    return None if frame is None else frame.f_code.co_filename


def error_message(exc: BaseException) -> str:
    """The error's own text (``str(KeyError)`` would quote it)."""
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc)


_WORKER_TRACEBACK = 'Original Traceback (most recent call last):\n'


def _worker_error(exc: BaseException) -> Optional[Tuple[str, str]]:
    """``(raising file, message)`` of an error raised in a DataLoader
    worker: torch raises it again in the main process as an error of the
    same type whose text is the worker's traceback."""
    text = error_message(exc)
    if _WORKER_TRACEBACK not in text:
        return None
    lines = text.split(_WORKER_TRACEBACK, 1)[1].splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith('  File "')]
    if not frames:
        return None
    prefix = f'{type(exc).__name__}: '
    for i in range(frames[-1] + 1, len(lines)):
        if lines[i].startswith(prefix):
            message = '\n'.join([lines[i][len(prefix):], *lines[i + 1:]])
            return lines[frames[-1]].split('"')[1], message.strip()
    return None


def config_key_error(exc: BaseException) -> Optional[str]:
    """The message for a config key that the class it builds does not take
    (or a required one it lacks), else None. The class is the one the
    builder called (``obj_cls``), not the one defining ``__init__``."""
    frame, message = _raising_frame(exc), error_message(exc)
    if not (isinstance(exc, TypeError) and frame is not None
            and frame.f_code.co_filename.endswith(_BUILDER)
            and _BAD_CONFIG_KEYS.match(message)):
        return None
    cls = frame.f_locals.get('obj_cls')
    name = getattr(cls, '__name__', 'its')
    return f'{message}: check the {name} entry of the config and --cfg-options'


def input_error_message(exc: BaseException) -> Optional[str]:
    """The message to end a tool with if ``exc`` is an input error raised
    by gentk's own code, else None. Looks through the errors ``exc`` was
    raised from or while handling (mmengine's builders re-raise a
    component's error with its class name prepended) and through
    DataLoader workers."""
    outer, seen = exc, set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, INPUT_ERRORS):
            config_error = config_key_error(exc)
            if config_error is not None:
                return config_error
            worker = _worker_error(exc)
            if worker is not None and _is_own(worker[0]):
                return worker[1]
            path = _raising_file(exc)
            if worker is None and path is not None and _is_own(path):
                return error_message(outer)
        exc = exc.__cause__ or exc.__context__
    return None


def close_process_group() -> None:
    """Tear down the distributed process group, if any, while the
    interpreter is still alive.

    Left to the interpreter's exit, a gloo worker thread may release its
    last collective's tensors during finalisation; it cannot take the GIL
    then, and the process aborts ('terminate called without an active
    exception') after finishing its work, so torchrun fails the run (about
    1 run in 25 with two processes here). Destroying the group and
    collecting the runner's cycles (its DDP wrappers hold the group) joins
    those threads first.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        gc.collect()


def run_tool(main: Callable[[], object]) -> None:
    """Run a tool's ``main``: an input error gentk raised ends the process
    with its message alone (exit status 2); any other error propagates with
    its traceback, as does every error under ``GENTK_DEBUG=1``. A
    distributed run's process group is closed either way."""
    try:
        result = _run_main(main)
    finally:
        close_process_group()
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)


def _run_main(main: Callable[[], object]) -> object:
    try:
        return main()
    except INPUT_ERRORS as exc:
        message = input_error_message(exc)
        if message is None or os.environ.get('GENTK_DEBUG', '') not in ('', '0'):
            raise
        print(f'error: {message}\n'
              f'(a {type(exc).__name__}; set GENTK_DEBUG=1 for the traceback)',
              file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
