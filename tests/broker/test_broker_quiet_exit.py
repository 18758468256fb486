"""The app's exit prints no pysignalr "Exception ignored" traceback, and nothing else is hidden."""

from types import SimpleNamespace

from deskguard.broker.realtime import is_closed_socket_loop


def _unraisable(message: str, filename: str):  # what sys.unraisablehook is given
    code = compile(f"def loop():\n    raise RuntimeError({message!r})\n", filename, "exec")
    scope: dict = {}
    exec(code, scope)
    try:
        scope["loop"]()
    except RuntimeError as exc:
        return SimpleNamespace(exc_type=RuntimeError, exc_value=exc, exc_traceback=exc.__traceback__,
                               err_msg="Exception ignored in", object=None)
    raise AssertionError("unreachable")


def test_a_closed_hub_socket_loop_finalizer_is_recognised() -> None:
    site = "/venv/lib/python3.12/site-packages/pysignalr/transport/websocket.py"
    assert is_closed_socket_loop(_unraisable("async generator ignored GeneratorExit", site))


def test_other_unraisable_exceptions_are_not_hidden() -> None:
    assert not is_closed_socket_loop(_unraisable("async generator ignored GeneratorExit", "/work/deskguard/mine.py"))
    site = "/venv/lib/python3.12/site-packages/pysignalr/transport/websocket.py"
    assert not is_closed_socket_loop(_unraisable("something else broke", site))
