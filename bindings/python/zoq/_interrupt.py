"""Ctrl-C while zoq runs a step that calls back into Python.

CPython runs a SIGINT handler at the next bytecode of the main thread. While
zoq_step runs in C, that is usually the first line of a ctypes callback,
before its try block: the KeyboardInterrupt escapes the callback, ctypes
prints it and hands C an undefined status. Deferred() keeps that from
happening: during the C call, SIGINT only records itself, except while a
callback runs the user's code (Deferred.call), where it raises
KeyboardInterrupt there as usual. A callback entered after an interrupt
raises it at once (inside its try), and one that arrived after the last
callback is raised by raise_pending() once the C call returned, so every
interrupt surfaces as KeyboardInterrupt after zoq restored the parameters.
"""
import signal
import threading


class Deferred:
    """Context manager around a C call whose callbacks use call()."""

    def __init__(self):
        self.hit = False
        self._armed = False
        self._saved = None

    def __enter__(self):
        self.hit, self._armed, self._saved = False, False, None
        # only the main thread receives signals, and a handler the program
        # installed itself is left alone
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._saved = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            signal.signal(signal.SIGINT, self._saved)
            self._saved = None
        return False

    def _on_sigint(self, signum, frame):
        if self._armed:
            self._armed = False
            raise KeyboardInterrupt
        self.hit = True

    def call(self, fn, *args):
        """fn(*args) with SIGINT raising as usual; KeyboardInterrupt at once
        if one arrived since the C call began."""
        if self.hit:
            self.hit = False
            raise KeyboardInterrupt
        self._armed = True
        try:
            return fn(*args)
        finally:
            self._armed = False

    def raise_pending(self):
        """Raises the KeyboardInterrupt of a SIGINT that no callback raised."""
        if self.hit:
            self.hit = False
            raise KeyboardInterrupt
