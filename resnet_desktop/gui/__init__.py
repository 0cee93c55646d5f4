"""The Qt desktop app.

Importing this package works around a PySide6 6.12 bug on CPython 3.11: its bindings return
``None``, ``True`` and ``False`` without taking a new reference (harmless on 3.12+, where those
objects are immortal), so every void Qt call made from Python drops one reference to ``None``
until the interpreter aborts with "Fatal Python error: none_dealloc: deallocating None" after a
few thousand calls. Giving the three singletons a reference count that cannot run out is what
3.12 does for them.
"""

import sys


def _keep_singletons_alive() -> None:
    # Debug builds with Py_TRACE_REFS put two pointers before the reference count.
    if (sys.implementation.name != "cpython" or sys.version_info >= (3, 12)
            or hasattr(sys, "getobjects")):
        return
    import ctypes

    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 40


_keep_singletons_alive()
