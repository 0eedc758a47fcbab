"""gavel: the Python binding of libgavel, an embedded policy engine for AI gateways.

A thin ctypes layer over the C API (capi/include/gavel.h); it needs only the
standard library and a built libgavel.so.

    import gavel

    with gavel.Engine("support_assistant.bundle") as engine:
        worker = engine.worker()                  # one per thread
        d = worker.decide(
            request={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
            principal={"api_key": "sk-1", "tier": "free"},
        )
        if not d.allowed:
            return d.status, d.code, d.message
        model = d.route or body["model"]

Finding the library
-------------------
``Engine(..., library=PATH)`` names libgavel explicitly; otherwise the
``GAVEL_LIBRARY`` environment variable, otherwise
``ctypes.util.find_library("gavel")``. A library is loaded once per path.

Threads
-------
- An ``Engine`` is shared by all threads: deciding (through workers),
  ``reload``, ``rollback``, shadowing and reading its hash are thread-safe, and
  a reload is atomic (every decision names the bundle it used).
- A ``Worker`` holds one thread's scratch memory: **use one Worker per
  thread** (a ``threading.local`` is the usual way). A worker may move between
  threads, but two threads must not decide on the same worker at once; the
  binding detects that and raises ``GavelError`` instead of corrupting memory.
- A ``Decision`` is a plain immutable Python object copied out of the C
  decision before ``decide`` returns; it stays valid forever and may be passed
  between threads.
- Callbacks (decision log, shadow differences) run on the deciding thread,
  inside ``Worker.decide``. They must not decide on that same worker or close
  it. An exception a callback raises is logged (logger ``"gavel"``) and
  ignored; it never fails the decision.
- ``Engine.close()`` first closes the engine's workers, waiting for decisions
  in flight on them; do not call other methods of the engine concurrently
  with ``close()``.

Errors
------
Everything the C API reports through ``char** errptr`` (a refused bundle, an
unknown or wrongly typed attribute, a body over the size limit, rollback
without a previous bundle) is raised as ``GavelError`` with the library's
message and its ``code``, an ``ErrorCode`` (``gavel_error_t``): a gateway
acts on ``e.code`` (``ErrorCode.BAD_SIGNATURE``, ``ErrorCode.NEWER_FORMAT``,
...), never on the words. Misuse the binding itself detects (a closed
engine, a worker used by two threads) raises ``GavelError`` with code
``None``. A request body that is not valid JSON or not OpenAI-shaped is *not*
an error: it is a deny ``Decision`` with status 400 and code
``"invalid_request"``. Python values the binding cannot pass at all raise
``TypeError`` / ``ValueError`` / ``OverflowError``.
"""

import collections
import ctypes
import enum
import json
import logging
import os
import threading
import weakref

from . import _native
from ._native import LibraryNotFound

__all__ = [
    "GavelError",
    "ErrorCode",
    "LibraryNotFound",
    "Engine",
    "Worker",
    "Decision",
    "Rule",
    "RuleError",
    "Redaction",
    "ResponseStream",
    "EFFECTS",
    "version",
    "bundle_format",
    "load_library",
]

_log = logging.getLogger("gavel")

# gavel_effect_t, in the names the decision JSON uses.
EFFECTS = ("allow", "deny", "route", "flag", "redact")

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


class ErrorCode(enum.IntEnum):
    """Why libgavel refused a call: gavel_error_t of gavel.h, number for number."""

    OK = 0
    INVALID_ARGUMENT = 1
    CORRUPT_BUNDLE = 2
    NEWER_FORMAT = 3
    OLDER_FORMAT = 4
    UNSIGNED = 5
    UNTRUSTED_KEY = 6
    BAD_SIGNATURE = 7
    OUT_OF_MEMORY = 8
    TOO_LARGE = 9
    FAILED_PRECONDITION = 10
    INTERNAL = 11


class GavelError(Exception):
    """An error reported by libgavel (through ``char** errptr``) or a misuse of a handle.

    ``code`` is the library's ``ErrorCode``, or None when the binding itself
    raised the error.
    """

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        self.code = code


def load_library(library=None):
    """Loads libgavel (see the module docs for where it is looked for) and returns it."""
    return _native.load(library)


def version(library=None):
    """The library version, e.g. ``"0.1.0"``."""
    return _native.load(library).version_string


def bundle_format(library=None):
    """The newest bundle format the library reads."""
    return _native.load(library).newest_bundle_format


def _raise_error(lib, err, fallback):
    code = None
    if err.value:
        try:
            code = ErrorCode(lib.error_code(err.value))
        except ValueError:
            code = ErrorCode.INTERNAL  # a code newer than this binding, read as gavel.h asks
    message = lib.take_string(err.value) if err.value else None
    raise GavelError(message or fallback, code)


def _bundle_bytes(bundle):
    """Bundle bytes from bytes-like data, or the contents of a file named by a str / path."""
    if isinstance(bundle, (bytes, bytearray, memoryview)):
        return bytes(bundle)
    if isinstance(bundle, (str, os.PathLike)):
        with open(bundle, "rb") as f:
            return f.read()
    raise TypeError("a bundle is bytes or a path, not %s" % type(bundle).__name__)


def _key_bytes(key):
    """A public key's text from bytes-like data, or the contents of a file named by a str / path."""
    if isinstance(key, (bytes, bytearray, memoryview)):
        return bytes(key)
    if isinstance(key, (str, os.PathLike)):
        with open(key, "rb") as f:
            return f.read()
    raise TypeError("a public key is bytes or a path, not %s" % type(key).__name__)


def _json_bytes(value, what):
    """A JSON body as bytes: dicts and lists are serialized, str is encoded, bytes pass as they are."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raise TypeError("%s must be a dict, list, str or bytes, not %s" % (what, type(value).__name__))


def _text_bytes(value, what):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError("%s must be a str, not %s" % (what, type(value).__name__))


def _check_int64(value, what):
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise OverflowError("%s %d does not fit in a 64-bit signed integer" % (what, value))
    return value


Rule = collections.namedtuple("Rule", ["name", "effect", "code", "message"])
Rule.__doc__ = """A rule that fired: its name, effect ("allow", "deny", "route", "flag" or
"redact"), code ("" if it has none; a deny rule without a code reports its
name) and message (a route's message is the model routed to)."""

RuleError = collections.namedtuple("RuleError", ["rule", "message"])
RuleError.__doc__ = """A rule whose condition (or message) could not be evaluated."""
Redaction = collections.namedtuple("Redaction", "field begin end kind replacement")
Redaction.__doc__ = """A span to mask: in the JSON string at ``field``, UTF-8 bytes [begin, end)."""


class Decision:
    """One decision, copied out of libgavel: immutable and valid forever.

    Attributes: ``allowed`` (bool), ``status`` (200 or the deny status),
    ``code`` and ``message`` (of the deciding deny; "" when allowed),
    ``route`` (the model to route to, or None), ``rules`` (tuple of ``Rule``,
    every rule that fired, in rule order), ``errors`` (tuple of
    ``RuleError``), ``redaction_count``, ``redactions`` (tuple of
    ``Redaction``: field path, UTF-8 byte offsets, kind, replacement),
    ``redacted`` (tuple of (field path, the field's text with its spans
    replaced) pairs), ``bundle_hash`` (the bundle that
    decided, "xxh3:..."), ``bundle_signer`` (the key id whose signature was
    verified when that bundle was loaded, or "unsigned"), ``eval_ns`` and ``json`` (the whole decision as the
    library renders it). ``to_dict()`` parses ``json``.
    """

    __slots__ = (
        "allowed",
        "status",
        "code",
        "message",
        "route",
        "rules",
        "errors",
        "redaction_count",
        "redactions",
        "redacted",
        "bundle_hash",
        "bundle_signer",
        "eval_ns",
        "json",
    )

    def __init__(
        self,
        *,
        allowed,
        status,
        code="",
        message="",
        route=None,
        rules=(),
        errors=(),
        redaction_count=0,
        redactions=(),
        redacted=None,
        bundle_hash="",
        bundle_signer="",
        eval_ns=0,
        json="{}",
    ):
        s = object.__setattr__
        s(self, "allowed", bool(allowed))
        s(self, "status", int(status))
        s(self, "code", code)
        s(self, "message", message)
        s(self, "route", route)
        s(self, "rules", tuple(Rule(*r) for r in rules))
        s(self, "errors", tuple(RuleError(*e) for e in errors))
        s(self, "redaction_count", int(redaction_count))
        s(self, "redactions", tuple(Redaction(*r) for r in redactions))
        s(self, "redacted", tuple(tuple(f) for f in (redacted or ())))
        s(self, "bundle_hash", bundle_hash)
        s(self, "bundle_signer", bundle_signer)
        s(self, "eval_ns", int(eval_ns))
        s(self, "json", json)

    def __setattr__(self, name, value):
        raise AttributeError("Decision is immutable")

    def __delattr__(self, name):
        raise AttributeError("Decision is immutable")

    @property
    def denied(self):
        return not self.allowed

    def to_dict(self):
        """The decision JSON as a new dict (the same object policyc eval prints)."""
        return json.loads(self.json)

    def _key(self):
        return tuple(getattr(self, k) for k in self.__slots__)

    def __eq__(self, other):
        if not isinstance(other, Decision):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __reduce__(self):
        return (_rebuild_decision, ({k: getattr(self, k) for k in self.__slots__},))

    def __repr__(self):
        if self.allowed:
            what = "allow" + (" route=%r" % self.route if self.route is not None else "")
        else:
            what = "deny %d %s" % (self.status, self.code)
        return "<gavel.Decision %s rules=%s>" % (what, [r.name for r in self.rules])


def _rebuild_decision(fields):
    return Decision(**fields)


class _Reader:
    """Copies a C decision into a Decision while it is still valid."""

    def __init__(self, lib):
        self.lib = lib
        self.n = ctypes.c_size_t()
        self.nref = ctypes.byref(self.n)

    def text(self, fn, *args):
        p = fn(*args, self.nref)
        if not p:
            return None
        return ctypes.string_at(p, self.n.value).decode("utf-8", "replace")

    def decision(self, d):
        lib = self.lib
        text = self.text
        rules = []
        for i in range(lib.decision_rule_count(d)):
            effect = lib.decision_rule_effect(d, i)
            rules.append(
                Rule(
                    text(lib.decision_rule_name, d, i),
                    EFFECTS[effect] if 0 <= effect < len(EFFECTS) else "effect_%d" % effect,
                    text(lib.decision_rule_code, d, i) or "",
                    text(lib.decision_rule_message, d, i) or "",
                )
            )
        errors = [
            RuleError(text(lib.decision_error_rule, d, i), text(lib.decision_error_message, d, i))
            for i in range(lib.decision_error_count(d))
        ]
        redactions = []
        field, kind, repl = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        flen, klen, rlen = ctypes.c_size_t(), ctypes.c_size_t(), ctypes.c_size_t()
        begin, end = ctypes.c_size_t(), ctypes.c_size_t()
        for i in range(lib.decision_redaction_count(d)):
            lib.decision_redaction(
                d, i, ctypes.byref(field), ctypes.byref(flen), ctypes.byref(begin), ctypes.byref(end),
                ctypes.byref(kind), ctypes.byref(klen), ctypes.byref(repl), ctypes.byref(rlen)
            )

            def s(p, n):
                return ctypes.string_at(p.value, n.value).decode("utf-8", "replace") if p.value else ""

            redactions.append((s(field, flen), begin.value, end.value, s(kind, klen), s(repl, rlen)))
        redacted = [
            (text(lib.decision_redacted_field, d, i), text(lib.decision_redacted_text, d, i))
            for i in range(lib.decision_redacted_count(d))
        ]
        json_text = text(lib.decision_json, d) or "{}"
        return Decision(
            allowed=lib.decision_allowed(d) == 1,
            status=lib.decision_status(d),
            code=text(lib.decision_code, d) or "",
            message=text(lib.decision_message, d) or "",
            route=text(lib.decision_route, d),
            rules=rules,
            errors=errors,
            redaction_count=lib.decision_redaction_count(d),
            redactions=redactions,
            redacted=redacted,
            bundle_hash=text(lib.decision_bundle_hash, d) or "",
            bundle_signer=text(lib.decision_bundle_signer, d) or "",
            eval_ns=lib.decision_eval_ns(d),
            json=json_text,
        )


class Engine:
    """A loaded bundle, shared by all threads. See the module docs.

    ``Engine(bundle)`` takes the bundle's bytes (bytes, bytearray, memoryview)
    or the path of a bundle file (str or os.PathLike). ``library`` names
    libgavel.so explicitly; ``max_request_bytes`` changes the body size
    limit (default 8 MiB). Raises GavelError if the bundle is refused.

    ``trusted_keys`` lists public keys (each the path of a ``.pub`` file from
    ``policyc keygen``, or its contents as bytes). With any, the engine loads
    only bundles signed by one of them -- on open, ``reload`` and
    ``set_shadow`` -- and keeps exactly these keys for its whole life.
    """

    def __init__(self, bundle, *, library=None, max_request_bytes=None, trusted_keys=None):
        self._handle = None
        self._lib = lib = _native.load(library)
        self._lock = threading.Lock()
        self._workers = weakref.WeakSet()
        self._log_callback = None
        self._shadow_callback = None
        self._make_trampolines()
        data = _bundle_bytes(bundle)
        if isinstance(trusted_keys, (str, bytes, bytearray, memoryview, os.PathLike)):
            raise TypeError("trusted_keys is a list of keys, not one key")
        keys = [_key_bytes(k) for k in (trusted_keys or ())]
        options = None
        if max_request_bytes is not None and max_request_bytes < 0:
            raise ValueError("max_request_bytes must not be negative")
        if max_request_bytes is not None or keys:
            options = lib.options_create()
            if not options:
                raise MemoryError("gavel_options_create failed")
        err = ctypes.c_void_p()
        try:
            if max_request_bytes is not None:
                lib.options_set_max_request_bytes(options, max_request_bytes)
            for key in keys:
                if lib.options_trust_key(options, key, len(key), ctypes.byref(err)) != 1:
                    _raise_error(lib, err, "not a public key")
            handle = lib.engine_open(options, data, len(data), ctypes.byref(err))
        finally:
            lib.options_destroy(options)
        if not handle:
            _raise_error(lib, err, "cannot open the bundle")
        self._handle = handle

    @classmethod
    def from_file(cls, path, **kwargs):
        return cls(os.fspath(path), **kwargs)

    @classmethod
    def from_bytes(cls, data, **kwargs):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("from_bytes takes bytes, not %s" % type(data).__name__)
        return cls(data, **kwargs)

    # The C callbacks are created once per engine and stay installed-able for
    # its whole life: a decision already running on another thread may still
    # call the callback that was current when it started, so the function
    # pointers handed to C must outlive every change. They look the Python
    # callback up at call time, and hold the engine only weakly.
    def _make_trampolines(self):
        ref = weakref.ref(self)

        def on_log(arg, line, line_len):
            engine = ref()
            callback = engine._log_callback if engine is not None else None
            if callback is None:
                return
            try:
                callback(ctypes.string_at(line, line_len).decode("utf-8", "replace"))
            except Exception:
                _log.exception("gavel decision log callback raised")

        def on_shadow(arg, active, active_len, shadow, shadow_len):
            engine = ref()
            callback = engine._shadow_callback if engine is not None else None
            if callback is None:
                return
            try:
                callback(
                    json.loads(ctypes.string_at(active, active_len).decode("utf-8", "replace")),
                    json.loads(ctypes.string_at(shadow, shadow_len).decode("utf-8", "replace")),
                )
            except Exception:
                _log.exception("gavel shadow callback raised")

        self._log_trampoline = _native.LOG_FN(on_log)
        self._shadow_trampoline = _native.SHADOW_FN(on_shadow)

    def _h(self):
        h = self._handle
        if h is None:
            raise GavelError("engine is closed")
        return h

    @property
    def library(self):
        """The loaded libgavel this engine uses."""
        return self._lib

    @property
    def closed(self):
        return self._handle is None

    def worker(self):
        """A new Worker on this engine (one per thread)."""
        return Worker(self)

    def reload(self, bundle):
        """Atomically makes `bundle` (bytes or a path) active; the previous one is kept for rollback.

        Raises GavelError if the bundle is refused; the active bundle is then unchanged.
        """
        data = _bundle_bytes(bundle)
        err = ctypes.c_void_p()
        if self._lib.engine_reload(self._h(), data, len(data), ctypes.byref(err)) != 1:
            _raise_error(self._lib, err, "reload failed")

    def rollback(self):
        """Makes the previous bundle active again; GavelError if there is none."""
        err = ctypes.c_void_p()
        if self._lib.engine_rollback(self._h(), ctypes.byref(err)) != 1:
            _raise_error(self._lib, err, "rollback failed")

    @property
    def bundle_hash(self):
        """The active bundle's hash, "xxh3:" and 32 hex digits."""
        h = self._lib.take_string(self._lib.engine_bundle_hash(self._h()))
        if h is None:
            raise GavelError("gavel_engine_bundle_hash returned NULL")
        return h

    @property
    def bundle_signer(self):
        """The key id that signed the active bundle (verified at load), or "unsigned"."""
        s = self._lib.take_string(self._lib.engine_bundle_signer(self._h()))
        if s is None:
            raise GavelError("gavel_engine_bundle_signer returned NULL")
        return s

    @property
    def generation(self):
        """How many bundles were made active (open counts as 1; reload and rollback add 1)."""
        return int(self._lib.engine_generation(self._h()))

    # -- shadow ------------------------------------------------------------

    def set_shadow(self, bundle):
        """Evaluates `bundle` (bytes or a path) beside the active one on every decision.

        Resets the shadow counters. Raises GavelError if the bundle is refused.
        """
        data = _bundle_bytes(bundle)
        err = ctypes.c_void_p()
        if self._lib.engine_set_shadow(self._h(), data, len(data), ctypes.byref(err)) != 1:
            _raise_error(self._lib, err, "cannot load the shadow bundle")

    def clear_shadow(self):
        """Stops shadow evaluation (the counters keep their values)."""
        self._lib.engine_clear_shadow(self._h())

    def set_shadow_callback(self, callback):
        """Calls ``callback(active: dict, shadow: dict)`` when the shadow bundle decides
        differently from the active one (on the deciding thread). None removes it."""
        if callback is not None and not callable(callback):
            raise TypeError("the shadow callback must be callable or None")
        with self._lock:
            self._shadow_callback = callback
            if callback is None:
                self._lib.engine_set_shadow_callback(self._h(), _native.SHADOW_FN(), None)  # NULL
            else:
                self._lib.engine_set_shadow_callback(self._h(), self._shadow_trampoline, None)

    @property
    def shadow_decisions(self):
        """Decisions the shadow bundle made since it was set."""
        return int(self._lib.engine_shadow_decisions(self._h()))

    @property
    def shadow_differences(self):
        """Shadow decisions that differed from the active ones since the shadow was set."""
        return int(self._lib.engine_shadow_differences(self._h()))

    # -- decision log ------------------------------------------------------

    def set_decision_log(self, callback, sample_rate=1.0):
        """Calls ``callback(line: str)`` with one JSON line per sampled decision.

        The line holds time, decision id, bundle hash, effect, status, rule
        names, codes, flags and errors -- never request text. ``sample_rate``
        is in [0, 1] (1 logs every decision). ``callback=None`` stops logging.
        """
        if callback is not None and not callable(callback):
            raise TypeError("the decision log callback must be callable or None")
        sample_rate = float(sample_rate)
        if not 0.0 <= sample_rate <= 1.0:  # also refuses NaN
            raise ValueError("sample_rate must be in [0, 1], not %r" % sample_rate)
        with self._lock:
            self._log_callback = callback
            if callback is None:
                self._lib.engine_set_decision_log(self._h(), _native.LOG_FN(), None, 0.0)  # NULL
            else:
                self._lib.engine_set_decision_log(self._h(), self._log_trampoline, None, sample_rate)

    # -- lifetime ----------------------------------------------------------

    def close(self):
        """Closes the engine's workers (waiting for their decisions in flight), then the engine."""
        with self._lock:
            handle = self._handle
            if handle is None:
                return
            for w in list(self._workers):
                w.close()
            self._handle = None
            self._lib.engine_destroy(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Workers hold their engine, so none is left when this runs.
        handle = getattr(self, "_handle", None)
        if handle is not None:
            self._handle = None
            self._lib.engine_destroy(handle)

    def __repr__(self):
        if self._handle is None:
            return "<gavel.Engine closed>"
        return "<gavel.Engine %s generation=%d>" % (self.bundle_hash, self.generation)


class Worker:
    """One thread's decision state on an Engine. Use one Worker per thread.

    The worker keeps its engine alive; closing the engine closes its workers.
    """

    def __init__(self, engine):
        if not isinstance(engine, Engine):
            raise TypeError("Worker(engine) takes a gavel.Engine")
        self._handle = None
        self._input = None
        self._engine = engine
        self._lib = lib = engine._lib
        self._busy = threading.Lock()
        self._owner = None  # thread id while deciding
        self._reader = _Reader(lib)
        err = ctypes.c_void_p()
        handle = lib.worker_create(engine._h(), ctypes.byref(err))
        if not handle:
            _raise_error(lib, err, "cannot create a worker")
        inp = lib.input_create()
        if not inp:
            lib.worker_destroy(handle)
            raise MemoryError("gavel_input_create failed")
        self._handle, self._input = handle, inp
        engine._workers.add(self)

    @property
    def engine(self):
        return self._engine

    @property
    def closed(self):
        return self._handle is None

    def decide(
        self,
        request=None,
        *,
        principal=None,
        context=None,
        env=None,
        response=None,
        endpoint=None,
        input_tokens=None,
        attributes=None,
        response_phase=None,
    ):
        """Decides one request (or response) and returns a Decision.

        ``request``, ``response``, ``principal``, ``context`` and ``env`` are
        JSON: a dict or list (serialized with json.dumps), a str or bytes (used
        as they are). ``endpoint`` is "chat", "completions", "responses" or
        "embeddings" (default: inferred). ``input_tokens`` is the exact input
        token count. ``attributes`` maps policy names ("principal.team",
        "request.max_tokens", ...) to str, int, float, bool or a list of str;
        they override the JSON bodies. The ``on response`` rules are decided
        when ``response`` is given, unless ``response_phase`` says otherwise.

        Raises GavelError for an unknown or wrongly typed attribute or a body
        over the size limit; a malformed request body gives a 400
        "invalid_request" Decision instead.
        """
        lib = self._lib
        if not self._busy.acquire(False):
            if self._owner == threading.get_ident():
                raise GavelError("decide called from a callback of the same worker")
            raise GavelError("worker is in use by another thread (use one Worker per thread)")
        try:
            handle, inp = self._handle, self._input
            if handle is None:
                raise GavelError("worker is closed")
            self._owner = threading.get_ident()
            # The library does not copy JSON bodies or the endpoint: `keep`
            # holds the bytes until the decision has been copied out.
            keep = []
            lib.input_clear(inp)
            try:
                for setter, value, what in (
                    (lib.input_set_request_json, request, "request"),
                    (lib.input_set_response_json, response, "response"),
                    (lib.input_set_principal_json, principal, "principal"),
                    (lib.input_set_context_json, context, "context"),
                    (lib.input_set_env_json, env, "env"),
                ):
                    if value is not None:
                        b = _json_bytes(value, what)
                        keep.append(b)
                        setter(inp, b, len(b))
                if endpoint is not None:
                    b = _text_bytes(endpoint, "endpoint")
                    keep.append(b)
                    lib.input_set_endpoint(inp, b, len(b))
                if input_tokens is not None:
                    if isinstance(input_tokens, bool) or not isinstance(input_tokens, int):
                        raise TypeError("input_tokens must be an int")
                    lib.input_set_input_tokens(inp, _check_int64(input_tokens, "input_tokens"))
                if response_phase is None:
                    response_phase = response is not None
                lib.input_set_response_phase(inp, 1 if response_phase else 0)
                if attributes:
                    self._set_attributes(inp, attributes)
                err = ctypes.c_void_p()
                d = lib.decide(handle, inp, ctypes.byref(err))
                if not d:
                    _raise_error(lib, err, "decide failed")
                return self._reader.decision(d)
            finally:
                # Forget the views into `keep` before it goes away.
                lib.input_clear(inp)
                del keep
        finally:
            self._owner = None
            self._busy.release()

    def stream(self, *, holdback=0, request=None, principal=None, context=None, env=None, attributes=None):
        """Starts screening a response that arrives in pieces; returns a ResponseStream.

        The exchange's request, principal, context, env and attributes are
        given once here. ``holdback`` is how many bytes are held back after
        each piece (0: the library's default, 256); see ResponseStream.
        """
        return ResponseStream(
            self,
            holdback=holdback,
            request=request,
            principal=principal,
            context=context,
            env=env,
            attributes=attributes,
        )

    def _set_attributes(self, inp, attributes):
        lib = self._lib
        for name, value in attributes.items():
            n = _text_bytes(name, "an attribute name")
            if isinstance(value, bool):
                lib.input_set_bool(inp, n, len(n), 1 if value else 0)
            elif isinstance(value, int):
                lib.input_set_int(inp, n, len(n), _check_int64(value, "attribute %s" % name))
            elif isinstance(value, float):
                lib.input_set_float(inp, n, len(n), value)
            elif isinstance(value, (str, bytes)):
                v = _text_bytes(value, "attribute %s" % name)
                lib.input_set_string(inp, n, len(n), v, len(v))
            elif isinstance(value, (list, tuple, set, frozenset)):
                items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
                encoded = [_text_bytes(v, "an item of attribute %s" % name) for v in items]
                count = len(encoded)
                values = (ctypes.c_char_p * max(count, 1))(*encoded)
                lens = (ctypes.c_size_t * max(count, 1))(*[len(v) for v in encoded])
                lib.input_set_string_list(inp, n, len(n), values, lens, count)  # copied by the library
            else:
                raise TypeError(
                    "attribute %s: a value is str, int, float, bool or a list of str, not %s"
                    % (name, type(value).__name__)
                )

    def close(self):
        """Destroys the worker, waiting for a decision in flight on another thread."""
        if self._owner == threading.get_ident():
            raise GavelError("cannot close a worker from a callback of its own decision")
        with self._busy:
            handle, inp = self._handle, self._input
            self._handle = self._input = None
            if inp is not None:
                self._lib.input_destroy(inp)
            if handle is not None:
                self._lib.worker_destroy(handle)
        try:
            self._engine._workers.discard(self)
        except TypeError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        lib = getattr(self, "_lib", None)
        if lib is None:
            return
        inp, handle = getattr(self, "_input", None), getattr(self, "_handle", None)
        self._handle = self._input = None
        if inp is not None:
            lib.input_destroy(inp)
        if handle is not None:
            lib.worker_destroy(handle)

    def __repr__(self):
        return "<gavel.Worker%s>" % (" closed" if self._handle is None else "")


class ResponseStream:
    """A streamed response screened piece by piece against the ``on response`` rules.

    ``write(text)`` returns ``(decision, forwarded)``: the decision over all
    text so far, and the text that may be sent to the client now, with
    redactions applied. The last ``holdback`` bytes are held back so that a
    secret split over pieces is masked before any of it is sent;
    ``finish()`` returns the rest. Once a decision denies, nothing more is
    forwarded: end the response. Use it from the worker's thread.
    """

    def __init__(self, worker, *, holdback=0, request=None, principal=None, context=None, env=None,
                 attributes=None):
        self._worker = worker
        self._lib = lib = worker._lib
        self._handle = None
        self._input = None
        self._keep = []
        err = ctypes.c_void_p()
        handle = lib.stream_create(worker._engine._h(), int(holdback), ctypes.byref(err))
        if not handle:
            _raise_error(lib, err, "cannot create a stream")
        inp = lib.input_create()
        if not inp:
            lib.stream_destroy(handle)
            raise MemoryError("gavel_input_create failed")
        self._handle, self._input = handle, inp
        for setter, value, what in (
            (lib.input_set_request_json, request, "request"),
            (lib.input_set_principal_json, principal, "principal"),
            (lib.input_set_context_json, context, "context"),
            (lib.input_set_env_json, env, "env"),
        ):
            if value is not None:
                b = _json_bytes(value, what)
                self._keep.append(b)  # the library keeps views, not copies
                setter(inp, b, len(b))
        if attributes:
            worker._set_attributes(inp, attributes)

    def _step(self, piece):
        w = self._worker
        if not w._busy.acquire(False):
            raise GavelError("worker is in use by another thread (use one Worker per thread)")
        try:
            if self._handle is None or w._handle is None:
                raise GavelError("stream or worker is closed")
            lib = self._lib
            out, out_len, err = ctypes.c_void_p(), ctypes.c_size_t(), ctypes.c_void_p()
            if piece is None:
                d = lib.stream_finish(self._handle, w._handle, self._input, ctypes.byref(out), ctypes.byref(out_len),
                                      ctypes.byref(err))
            else:
                b = _text_bytes(piece, "a piece")
                d = lib.stream_write(self._handle, w._handle, self._input, b, len(b), ctypes.byref(out),
                                     ctypes.byref(out_len), ctypes.byref(err))
            if not d:
                _raise_error(lib, err, "stream failed")
            forwarded = ctypes.string_at(out.value, out_len.value).decode("utf-8", "replace") if out.value else ""
            return w._reader.decision(d), forwarded
        finally:
            w._busy.release()

    def write(self, piece):
        """Screens the next piece (str or bytes); returns (decision, text to forward now)."""
        return self._step(piece)

    def finish(self):
        """The response is complete: returns (decision, the held-back text)."""
        return self._step(None)

    def close(self):
        if self._input is not None:
            self._lib.input_destroy(self._input)
        if self._handle is not None:
            self._lib.stream_destroy(self._handle)
        self._handle = self._input = None
        self._keep = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass
