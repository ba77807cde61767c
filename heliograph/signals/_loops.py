"""Send loops generated for one shape of keyword arguments, from one template.

``receiver(sender, **kwargs)`` makes CPython unpack the dict into keywords
and pack a fresh dict again for every receiver. A call that names its
keywords (``receiver(sender, user=value0, data=value1)``) skips the unpacking
and costs about half as much. For each tuple of keyword names a signal is
sent with, the code that names them is generated once (as :mod:`dataclasses`
generates ``__init__``) and cached. Receivers see exactly what
``receiver(sender, **kwargs)`` would give them, in the same order.

Every generated function is made from :func:`_call_lines`, the one place
that says how a receiver is called: get it from its getter, skip it when its
weak reference died, call it, hand a failure to the signal's error policy
(``signal._failed``), and, when a receiver observer is bound in, time the
call and report it. The generated source is registered with :mod:`linecache`,
so tracebacks and pdb show its lines like those of any Python file.

Two kinds of function are generated:

- a *loop* ``loop(signal, targets, sender, kwargs)`` for a tuple of
  getters: :func:`loop_for` (named keywords, or ``**kwargs`` for any shape);
- a *send* (:func:`make_send`) for a signal in its common state (receivers
  for any sender, nothing to check per call): the signal's receivers, its send
  counter, the keyword shape it was last sent with and the observer are bound
  in, so a send is one plain call. It is installed as the signal's ``send``;
  one that a caller kept (``send = signal.send``, a ``functools.partial``)
  after a change replaced it hands every call to the signal's current send,
  so a kept send is never a stale picture of the receivers. For up to
  :data:`UNROLL_MAX` receivers not even a loop: each receiver is called in a
  straight line and the results are built as one list. A send with another
  shape is handed to ``other``, which learns the new shape.

A send whose receivers are all held strongly (their getters plain
:class:`weakref.ref`, see ``Signal._hold``) is generated *direct*: it holds
the receivers themselves and calls them with no getter and no check for a
dead one. That spares a weak reference read per receiver, a cache miss each
in a server, where a send runs cold. Holding them does not keep a
disconnected receiver alive: every connect and disconnect takes the installed
send off the signal (or replaces it) under the signal's lock, a send is never
installed for a table that changed while it was generated, and a send holds
no reference cycle, so it is freed at once; a receiver disconnected during a
send may still be called by that send, which already holds it (blinker,
which looks each receiver up as it goes, skips it; the weak-reference path
did the same only for a receiver nothing else kept alive).

Only names that are identifiers and not Python keywords are specialised; the
caches are bounded, and any other send takes the generic loop.
"""

from __future__ import annotations

import collections.abc as c
import itertools
import keyword
import linecache
import threading
import time
import typing as t
import weakref

Loop = c.Callable[[t.Any, tuple[t.Any, ...], t.Any, dict[str, t.Any]], list[tuple[t.Any, t.Any]]]
Send = c.Callable[..., list[tuple[t.Any, t.Any]]]
Other = c.Callable[[t.Any, dict[str, t.Any]], list[tuple[t.Any, t.Any]]]
Observer = c.Callable[[t.Any, t.Any, float, "BaseException | None"], None]
Factory = c.Callable[..., Send]

MAX_SHAPES = 256
"""How many keyword shapes get generated code of their own."""

UNROLL_MAX = 8
"""Sends to at most this many receivers call each one in a straight line, with
no loop (about a tenth faster for five); more receivers take the loop."""

ANY_SHAPE = None
"""The ``names`` of the loop that passes ``**kwargs``, whatever their names."""

_loops: dict[tuple[str, ...] | None, Loop | None] = {}
_factories: dict[tuple[tuple[str, ...], int, bool, bool], Factory | None] = {}
"""Send factories by (keyword names, receivers unrolled or 0 for a loop,
observed, direct)."""
_lock = threading.Lock()
_serial = itertools.count(1)
"""Numbers the generated sources, so each has a file name of its own."""
_MISSING: t.Any = object()


def _call_lines(n: str, call: str, observed: bool, direct: bool = False) -> list[str]:
    """The lines that call one receiver, taken from ``getter{n}``.

    They leave the receiver in ``receiver{n}`` (None when its weak reference
    died: then nothing is called) and what it returned, or the exception it
    raised under the 'isolate' policy, in ``result{n}``. ``call`` is the
    argument list after the sender. With ``observed`` the call is timed and
    reported to ``observer`` before the error policy applies; an observer that
    raises is reported to ``observer_failed`` and the send goes on. With
    ``direct`` the receiver is already in ``receiver{n}``: only the call.
    """
    receiver, result = f"receiver{n}", f"result{n}"
    body = ["started = clock()"] if observed else []
    body += ["try:", f"    {result} = {receiver}(sender{call})", "except Exception as error:"]
    if observed:
        body += [f"    report({receiver}, clock() - started, error)"]
    body += [f"    signal._failed({receiver}, sender, error)", f"    {result} = error"]
    if observed:
        body += [
            "except BaseException as error:",
            f"    report({receiver}, clock() - started, error)",
            "    raise",
            "else:",
            "    elapsed = clock() - started",
            "    try:",
            f"        observer(signal, {receiver}, elapsed, None)",
            "    except Exception:",
            "        observer_failed(observer)",
        ]
    if direct:
        return body
    return [f"{receiver} = getter{n}()", f"if {receiver} is not None:", *_indent(body)]


def _loop_lines(call: str, observed: bool, direct: bool = False) -> list[str]:
    """Call every getter of ``targets`` (``direct``: every receiver of it);
    return ``[(receiver, result), ...]``."""
    if direct:
        each = _call_lines("", call, observed, direct=True)
    else:
        first, _, *body = _call_lines("", call, observed)
        each = [first, "if receiver is None:", "    continue", *_dedent(body)]
    # ``results.append(...)`` written out, not bound once to a local: CPython
    # 3.11 specialises the written-out call to an inline list append, which
    # costs less than calling a bound method (about 6 ns a receiver).
    return [
        "results = []",
        f"for {'receiver' if direct else 'getter'} in targets:",
        *_indent([*each, "results.append((receiver, result))"]),
        "return results",
    ]


def _unrolled_lines(count: int, call: str, observed: bool, direct: bool = False) -> list[str]:
    """Call ``getter0`` to ``getter{count-1}`` in a straight line; leave out the
    dead (``direct``: call ``receiver0`` to ``receiver{count-1}``)."""
    pairs = ", ".join(f"(receiver{i}, result{i})" for i in range(count))
    if direct:
        calls = [line for i in range(count) for line in _call_lines(str(i), call, observed, True)]
        return [*calls, f"return [{pairs}]"]
    lines: list[str] = []
    for i in range(count):
        lines += _call_lines(str(i), call, observed)
        lines += ["else:", f"    result{i} = None"]
    alive = " and ".join(f"receiver{i} is not None" for i in range(count))
    return [
        *lines,
        f"if {alive}:",
        f"    return [{pairs}]",
        f"return [pair for pair in ({pairs},) if pair[0] is not None]",
    ]


def loop_for(names: tuple[str, ...] | None) -> Loop | None:
    """The loop for sends whose keyword arguments are ``names``, in that order
    (:data:`ANY_SHAPE`: the loop that passes ``**kwargs``), or None when the
    shape is not specialised."""
    try:
        return _loops[names]
    except KeyError:
        pass
    with _lock:
        if names in _loops:
            return _loops[names]
        if len(_loops) >= MAX_SHAPES:
            return None
        _loops[names] = found = _generate_loop(names)
        return found


def _generate_loop(names: tuple[str, ...] | None) -> Loop | None:
    if names is ANY_SHAPE:
        call, unpack = ", **kwargs", []
    elif not names or not _specialisable(names):
        return None
    else:
        call, unpack = _call(names), _unpack(names)
    source = "\n".join(
        [
            "def loop(signal, targets, sender, kwargs, /):",
            *_indent([*unpack, *_loop_lines(call, False)]),
            "",
        ]
    )
    return t.cast(Loop, _compile(source, f"loop {names!r}", "loop"))


def make_send(
    signal: t.Any,
    targets: tuple[t.Any, ...],
    count_send: c.Callable[[], t.Any],
    names: tuple[str, ...],
    other: Other,
    doc: str | None,
    observer: Observer | None = None,
    observer_failed: c.Callable[[Observer], None] | None = None,
) -> Send | None:
    """A ``send`` for ``signal`` bound to ``targets`` and keyword ``names``
    (None when the shape is not specialised). With ``observer`` every
    receiver call is timed and reported to it. Its ``token`` attribute goes
    to ``signal._installed`` when it is installed: it hands each call to
    ``signal.send`` unless ``signal._installed`` is its token (it was
    replaced since)."""
    token = object()
    if not targets:

        def send_to_nobody(
            _sender: t.Any = None, /, *, _async_wrapper: t.Any = None, **_kwargs: t.Any
        ) -> list[tuple[t.Any, t.Any]]:
            if signal._installed is not token:  # kept past its table (see _generate_factory)
                return t.cast(Send, signal.send)(_sender, _async_wrapper=_async_wrapper, **_kwargs)
            count_send()
            return []

        send: Send = send_to_nobody
        send_to_nobody.token = token  # type: ignore[attr-defined]
    else:
        receivers = _strongly_held(targets)
        if receivers is not None:
            targets = receivers
        key = (
            names,
            len(targets) if len(targets) <= UNROLL_MAX else 0,
            observer is not None,
            receivers is not None,
        )
        factory = _factories.get(key, _MISSING)
        if factory is _MISSING:
            with _lock:
                factory = _factories.get(key, _MISSING)
                if factory is _MISSING:
                    if len(_factories) >= MAX_SHAPES:
                        return None
                    factory = _factories[key] = _generate_factory(*key)
        if factory is None:
            return None
        report = None
        if observer is not None:

            def report(receiver: t.Any, elapsed: float, error: BaseException) -> None:
                try:
                    observer(signal, receiver, elapsed, error)
                except Exception:
                    t.cast(c.Callable[[Observer], None], observer_failed)(observer)

        send = factory(
            signal,
            targets,
            count_send,
            names,
            other,
            observer,
            report,
            observer_failed,
            time.perf_counter,
            token,
        )
    send.__doc__ = doc
    send.__qualname__ = send.__name__ = "send"
    return send


def _strongly_held(targets: tuple[t.Any, ...]) -> tuple[t.Any, ...] | None:
    """The receivers of ``targets`` when every one is held strongly (its
    getter a plain weak reference, the strong record's), else None."""
    receivers = []
    for getter in targets:
        if type(getter) is not weakref.ref:
            return None
        receiver = getter()
        if receiver is None:
            return None
        receivers.append(receiver)
    return tuple(receivers)


def _generate_factory(
    names: tuple[str, ...], unrolled: int, observed: bool, direct: bool
) -> Factory | None:
    """The factory of sends with keyword ``names``: a loop over the targets, or
    (``unrolled`` > 0) straight-line calls of exactly that many targets; the
    targets are getters, or (``direct``) the receivers themselves."""
    if not _specialisable(names):
        return None
    if unrolled:
        unpacked = "receiver" if direct else "getter"
        prologue = [", ".join(f"{unpacked}{i}" for i in range(unrolled)) + ", = targets"]
        body = _unrolled_lines(unrolled, _call(names), observed, direct)
    else:
        prologue, body = [], _loop_lines(_call(names), observed, direct)
    send = [
        "def send(sender=None, /, *, _async_wrapper=None, **kwargs):",
        # Kept by a caller past its table? The signal's ``_installed`` is the
        # token of the send installed now (naming ``send`` itself here would
        # make a cycle, and the receivers it holds would wait for the collector).
        "    if signal._installed is not token:",
        "        return signal.send(sender, _async_wrapper=_async_wrapper, **kwargs)",
        "    count_send()",
        "    if (*kwargs,) != names:",
        "        return other(sender, kwargs)",
        *_indent([*_unpack(names), *body]),
    ]
    source = "\n".join(
        [
            "def factory(signal, targets, count_send, names, other,"
            " observer, report, observer_failed, clock, token):",
            *_indent([*prologue, *send, "send.token = token", "return send"]),
            "",
        ]
    )
    what = f"send {names!r}, {f'{unrolled} receivers' if unrolled else 'looped'}"
    what += (", observed" if observed else "") + (", direct" if direct else "")
    return t.cast(Factory, _compile(source, what, "factory"))


def _specialisable(names: tuple[str, ...]) -> bool:
    return all(n.isidentifier() and not keyword.iskeyword(n) for n in names)


def _unpack(names: tuple[str, ...]) -> list[str]:
    """Bind the keyword values to ``value0``, ``value1``, ... (a line, or none).

    Keyword names never clash with these locals: in a call, ``user=value0``
    names a parameter of the receiver, not a variable here.
    """
    if not names:
        return []
    return ["".join(f"value{i}, " for i in range(len(names))) + "= kwargs.values()"]


def _call(names: tuple[str, ...]) -> str:
    """The keyword arguments of a receiver call: ``, user=value0, ...``."""
    return "".join(f", {name}=value{i}" for i, name in enumerate(names))


def _indent(lines: list[str]) -> list[str]:
    return [f"    {line}" if line else line for line in lines]


def _dedent(lines: list[str]) -> list[str]:
    return [line[4:] if line.startswith("    ") else line for line in lines]


def _compile(source: str, what: str, entry: str) -> t.Any:
    """Run ``source`` and return its ``entry``; its lines go to linecache."""
    filename = f"<heliograph {what} #{next(_serial)}>"
    lines = source.splitlines(keepends=True)
    # An entry without a modification time is never dropped by checkcache().
    linecache.cache[filename] = (len(source), None, lines, filename)
    namespace: dict[str, t.Any] = {}
    exec(compile(source, filename, "exec"), namespace)
    return namespace[entry]
