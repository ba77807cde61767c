"""Send loops specialised for one shape of keyword arguments.

``receiver(sender, **kwargs)`` makes CPython unpack the dict into keywords
and pack a fresh dict again for every receiver. A call that names its
keywords (``receiver(sender, user=v0, data=v1)``) skips the unpacking and
costs about half as much. For each tuple of keyword names a signal is sent
with, a loop that names them is generated once (as :mod:`dataclasses`
generates ``__init__``) and cached. Receivers see exactly what
``receiver(sender, **kwargs)`` would give them, in the same order.

Only names that are identifiers and not Python keywords are specialised; the
cache is bounded, and any other send takes the generic loop.

:func:`make_send` goes one step further for a signal in its common state
(receivers for any sender, nothing careful): it builds the signal's ``send``
itself, with its receivers, its counter and the keyword shape it was last
sent with bound in, so a send is one plain call and one loop; for up to
:data:`UNROLL_MAX` receivers not even a loop: each receiver is called in a
straight line and the results are built as one list. A send with another
shape is handed to ``other``, which learns the new shape.
"""

from __future__ import annotations

import collections.abc as c
import keyword
import textwrap
import threading
import typing as t

Loop = c.Callable[[t.Any, tuple[t.Any, ...], t.Any, dict[str, t.Any]], list[tuple[t.Any, t.Any]]]

MAX_SHAPES = 256
"""How many keyword shapes get a loop of their own."""

# The loop both generated functions share; {unpack} binds the values of
# _hg_kwargs to _hg_v0, _hg_v1, ... and {call} passes them by name.
_BODY = """\
{unpack}
_hg_results = []
_hg_append = _hg_results.append
for _hg_getter in _hg_targets:
    _hg_receiver = _hg_getter()
    if _hg_receiver is None:
        continue
    try:
        _hg_result = _hg_receiver(_hg_sender{call})
    except Exception as _hg_exc:
        _hg_signal._failed(_hg_receiver, _hg_sender, _hg_exc)
        _hg_result = _hg_exc
    _hg_append((_hg_receiver, _hg_result))
return _hg_results
"""

# One receiver's call, for sends unrolled over a few receivers ({index}: its
# getter _hg_g{index}, bound when the send is built); a collected weak
# receiver leaves _hg_r{index} None and is left out of the results.
_CALL_ONE = """\
_hg_r{index} = _hg_g{index}()
if _hg_r{index} is not None:
    try:
        _hg_x{index} = _hg_r{index}(_hg_sender{call})
    except Exception as _hg_exc:
        _hg_signal._failed(_hg_r{index}, _hg_sender, _hg_exc)
        _hg_x{index} = _hg_exc
else:
    _hg_x{index} = None
"""

UNROLL_MAX = 8
"""Sends to at most this many receivers call each one in a straight line, with
no loop (about a tenth faster for five); more receivers take the loop."""

_LOOP_HEADER = "def loop(_hg_signal, _hg_targets, _hg_sender, _hg_kwargs, /):\n"

_SEND_HEADER = """\
def factory(_hg_signal, _hg_targets, _hg_tick, _hg_names, _hg_other):
    def send(_hg_sender=None, /, *, _async_wrapper=None, **_hg_kwargs):
        _hg_tick()
        if (*_hg_kwargs,) != _hg_names:
            return _hg_other(_hg_sender, _hg_kwargs)
"""

Send = c.Callable[..., list[tuple[t.Any, t.Any]]]
Other = c.Callable[[t.Any, dict[str, t.Any]], list[tuple[t.Any, t.Any]]]
Factory = c.Callable[
    [t.Any, tuple[t.Any, ...], c.Callable[[], t.Any], tuple[str, ...], Other], Send
]

_loops: dict[tuple[str, ...], Loop | None] = {}
_factories: dict[tuple[tuple[str, ...], int], Factory | None] = {}
"""Send factories by (keyword names, receivers unrolled; 0 for the loop)."""
_lock = threading.Lock()


def loop_for(names: tuple[str, ...]) -> Loop | None:
    """The loop for sends whose keyword arguments are ``names``, in that order,
    or None when the shape is not specialised."""
    try:
        return _loops[names]
    except KeyError:
        pass
    with _lock:
        if names in _loops:
            return _loops[names]
        if len(_loops) >= MAX_SHAPES:
            return None
        _loops[names] = found = _generate(names)
        return found


def make_send(
    signal: t.Any,
    targets: tuple[t.Any, ...],
    tick: c.Callable[[], t.Any],
    names: tuple[str, ...],
    other: Other,
    doc: str | None,
) -> Send | None:
    """A ``send`` for ``signal`` bound to ``targets`` and keyword ``names``
    (None when the shape is not specialised)."""
    if not targets:

        def send_to_nobody(
            _sender: t.Any = None, /, *, _async_wrapper: t.Any = None, **_kwargs: t.Any
        ) -> list[tuple[t.Any, t.Any]]:
            tick()
            return []

        send: Send = send_to_nobody
    else:
        key = (names, len(targets) if len(targets) <= UNROLL_MAX else 0)
        factory = _factories.get(key, _MISSING)
        if factory is _MISSING:
            with _lock:
                if len(_factories) >= MAX_SHAPES:
                    return None
                factory = _factories[key] = _generate_factory(*key)
        if factory is None:
            return None
        send = t.cast(Factory, factory)(signal, targets, tick, names, other)
    send.__doc__ = doc
    send.__qualname__ = send.__name__ = "send"
    return send


_MISSING: t.Any = object()


def _specialisable(names: tuple[str, ...]) -> bool:
    return all(n.isidentifier() and not keyword.iskeyword(n) for n in names)


def _generate_factory(names: tuple[str, ...], unrolled: int) -> Factory | None:
    """The factory of sends with keyword ``names``: a loop over the targets, or
    (``unrolled`` > 0) straight-line calls of exactly that many targets."""
    if not _specialisable(names):
        return None
    if unrolled:
        getters = "".join(f"_hg_g{i}, " for i in range(unrolled))
        header = _SEND_HEADER.replace(
            "    def send(", f"    {getters}= _hg_targets\n    def send(", 1
        )
        pairs = ", ".join(f"(_hg_r{i}, _hg_x{i})" for i in range(unrolled))
        alive = " and ".join(f"_hg_r{i} is not None" for i in range(unrolled))
        body = _unpack(names)
        body += "".join(_CALL_ONE.format(index=i, call=_call(names)) for i in range(unrolled))
        body += f"if {alive}:\n    return [{pairs}]\n"
        body += f"return [_hg_pair for _hg_pair in ({pairs},) if _hg_pair[0] is not None]\n"
    else:
        header, body = _SEND_HEADER, _body(names)
    source = header + textwrap.indent(body, " " * 8) + "    return send\n"
    return t.cast(Factory, _compile(source, names, "factory"))


def _generate(names: tuple[str, ...]) -> Loop | None:
    if not names or not _specialisable(names):
        return None
    source = _LOOP_HEADER + textwrap.indent(_body(names), " " * 4)
    return t.cast(Loop, _compile(source, names, "loop"))


def _body(names: tuple[str, ...]) -> str:
    return _BODY.format(unpack=_unpack(names).rstrip("\n"), call=_call(names))


def _unpack(names: tuple[str, ...]) -> str:
    """Bind the keyword values to ``_hg_v0``, ``_hg_v1``, ... (a line, or nothing)."""
    if not names:
        return ""
    return "".join(f"_hg_v{i}, " for i in range(len(names))) + "= _hg_kwargs.values()\n"


def _call(names: tuple[str, ...]) -> str:
    """The keyword arguments of a receiver call: ``, user=_hg_v0, ...``."""
    return "".join(f", {name}=_hg_v{i}" for i, name in enumerate(names))


def _compile(source: str, names: tuple[str, ...], entry: str) -> t.Any:
    namespace: dict[str, t.Any] = {}
    exec(compile(source, f"<heliograph send {names!r}>", "exec"), namespace)
    return namespace[entry]
