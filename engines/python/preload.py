# Runs once, inside the interpreter, while scripts/build-python-engine.sh pre-initialises it
# with `wasmtime wizer`: whatever this leaves in memory is in every run's fresh instance, so
# the scientific stack is imported here and a run that uses it pays nothing for the import.
#
# It is executed with a namespace of its own (not __main__), and leaves behind only the
# imported modules and `_sandbox`, the module through which the sandbox finishes a run.
import _colorize, csv, json, os, re  # besides the stack, what the stock snapshot imports
import _host
import builtins
import sys
import types

import matplotlib
import matplotlib.figure

# No display exists; Agg renders to PNG without one.
matplotlib.use("Agg")

import matplotlib.pyplot as pyplot
import numpy
import pandas

WORKSPACE = "/workspace"


def _next_figure_path():
    number = 1
    while os.path.exists(f"{WORKSPACE}/figure-{number}.png"):
        number += 1
    return f"{WORKSPACE}/figure-{number}.png"


_user_savefig = matplotlib.figure.Figure.savefig


def _savefig(figure, *args, **kwargs):
    """Figure.savefig, remembering that the code saved this figure itself."""
    result = _user_savefig(figure, *args, **kwargs)
    figure._sandbox_saved = True
    return result


matplotlib.figure.Figure.savefig = _savefig


def save_figures():
    """Saves every open figure as /workspace/figure-N.png (the next free N) and closes it;
    except a figure the code saved itself and did not change since, which would come back twice."""
    numbers = [
        number
        for number in pyplot.get_fignums()
        if not (getattr(pyplot.figure(number), "_sandbox_saved", False) and not pyplot.figure(number).stale)
    ]
    if not numbers:
        pyplot.close("all")
        return
    if not os.path.isdir(WORKSPACE):
        print(
            f"matplotlib: {len(numbers)} figure(s) not saved: this run has no {WORKSPACE} directory",
            file=sys.stderr,
        )
    else:
        for number in numbers:
            _user_savefig(pyplot.figure(number), _next_figure_path(), format="png")
    pyplot.close("all")


def show(*args, **kwargs):
    """pyplot.show() for a sandbox: there is no screen, so figures become files for the caller."""
    save_figures()


def _quiet_displayhook(value):
    """A program's final expression is not echoed: a script run is not a REPL."""


# How a session's final expression reaches the sandbox: through the engine's host channel, in
# a frame the sandbox recognises (see Sources/WasmSandbox/HostCall.swift). The sandbox keeps
# the text and answers "no host bound", as it answers every request.
_VALUE_FRAME = b"\0wasm-sandbox:value\0"


def _session_displayhook(value):
    """A session call's final expression, as the REPL shows it, goes to the sandbox, which
    returns it apart from stdout; `_` holds it, as in the REPL."""
    if value is None:
        return
    builtins._ = None
    text = repr(value)
    builtins._ = value
    try:
        _host.call(_VALUE_FRAME + text.encode("utf-8", "backslashreplace"))
    except ConnectionRefusedError:
        pass


def begin(arguments, echo):
    """The sandbox's first turn of an instance: the program's sys.argv (as `python -c` gives
    it, from UTF-8 hex, which needs no quoting), and whether final expressions are reported
    (sessions) or not (script runs)."""
    sys.argv = ["-c"] + [bytes.fromhex(argument).decode() for argument in arguments]
    sys.displayhook = _session_displayhook if echo else _quiet_displayhook


def finish():
    """Called by the sandbox after a run's code: figures left open are saved as by show()."""
    if "matplotlib.pyplot" in sys.modules:
        save_figures()


pyplot.show = show
sandbox = types.ModuleType("_sandbox", "Hooks of wasm-sandbox (see engines/python/preload.py).")
sandbox.begin = begin
sandbox.finish = finish
sandbox.save_figures = save_figures
sys.modules["_sandbox"] = sandbox

# The build script checks for this file: a preload that failed part-way must not go unnoticed,
# since the interpreter's start-up would only print the exception and go on.
with open("/preload-done", "w") as marker:
    marker.write(
        f"numpy {numpy.__version__} pandas {pandas.__version__} matplotlib {matplotlib.__version__} "
        f"backend {matplotlib.get_backend()}\n"
    )
