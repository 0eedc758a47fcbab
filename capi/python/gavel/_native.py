"""Loading libgavel and declaring the prototypes of the C API (gavel.h).

Everything here is private to the package: the classes in ``gavel`` are the
interface. Each function of gavel.h that the binding calls has its argtypes
and restype declared below, so ctypes converts and checks arguments instead of
guessing (a guessed ``int`` return would truncate 64-bit pointers).

Pointers the library hands over for the caller to free (error messages,
``gavel_engine_bundle_hash``) are declared as ``c_void_p`` rather than
``c_char_p``: ctypes would convert a ``c_char_p`` result to ``bytes`` and lose
the pointer that ``gavel_free`` needs.
"""

import ctypes
import ctypes.util
import os
import threading

# Handles are opaque: distinct pointer types keep an engine from being passed
# where a worker is expected.
class _Options(ctypes.Structure):
    pass


class _Engine(ctypes.Structure):
    pass


class _Worker(ctypes.Structure):
    pass


class _Input(ctypes.Structure):
    pass


class _Decision(ctypes.Structure):
    pass


class _Stream(ctypes.Structure):
    pass


OptionsP = ctypes.POINTER(_Options)
EngineP = ctypes.POINTER(_Engine)
WorkerP = ctypes.POINTER(_Worker)
InputP = ctypes.POINTER(_Input)
DecisionP = ctypes.POINTER(_Decision)
StreamP = ctypes.POINTER(_Stream)

# char** errptr: a pointer to a c_void_p that the library may set.
ErrP = ctypes.POINTER(ctypes.c_void_p)
SizeP = ctypes.POINTER(ctypes.c_size_t)

# typedef void (*gavel_shadow_fn)(void*, const char*, size_t, const char*, size_t);
# The strings are declared as c_void_p so that ctypes does not stop at a NUL;
# the callback reads exactly len bytes with ctypes.string_at.
SHADOW_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t)
# typedef void (*gavel_log_fn)(void*, const char*, size_t);
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)

_c = ctypes
_PROTOTYPES = {
    # library
    "gavel_version": (_c.c_char_p, []),
    "gavel_bundle_format": (_c.c_int, []),
    "gavel_free": (None, [_c.c_void_p]),
    "gavel_error_code": (_c.c_int, [_c.c_void_p]),  # gavel_error_t, an int-sized enum
    # options
    "gavel_options_create": (OptionsP, []),
    "gavel_options_destroy": (None, [OptionsP]),
    "gavel_options_set_max_request_bytes": (None, [OptionsP, _c.c_size_t]),
    "gavel_options_trust_key": (_c.c_int, [OptionsP, _c.c_char_p, _c.c_size_t, ErrP]),
    # engine
    "gavel_engine_open": (EngineP, [OptionsP, _c.c_char_p, _c.c_size_t, ErrP]),
    "gavel_engine_destroy": (None, [EngineP]),
    "gavel_engine_reload": (_c.c_int, [EngineP, _c.c_char_p, _c.c_size_t, ErrP]),
    "gavel_engine_rollback": (_c.c_int, [EngineP, ErrP]),
    "gavel_engine_bundle_hash": (_c.c_void_p, [EngineP]),
    "gavel_engine_bundle_signer": (_c.c_void_p, [EngineP]),
    "gavel_engine_generation": (_c.c_uint64, [EngineP]),
    "gavel_engine_set_shadow": (_c.c_int, [EngineP, _c.c_char_p, _c.c_size_t, ErrP]),
    "gavel_engine_clear_shadow": (None, [EngineP]),
    "gavel_engine_set_shadow_callback": (None, [EngineP, SHADOW_FN, _c.c_void_p]),
    "gavel_engine_shadow_decisions": (_c.c_uint64, [EngineP]),
    "gavel_engine_shadow_differences": (_c.c_uint64, [EngineP]),
    "gavel_engine_set_decision_log": (None, [EngineP, LOG_FN, _c.c_void_p, _c.c_double]),
    # worker
    "gavel_worker_create": (WorkerP, [EngineP, ErrP]),
    "gavel_worker_destroy": (None, [WorkerP]),
    # input
    "gavel_input_create": (InputP, []),
    "gavel_input_destroy": (None, [InputP]),
    "gavel_input_clear": (None, [InputP]),
    "gavel_input_set_request_json": (None, [InputP, _c.c_char_p, _c.c_size_t]),
    "gavel_input_set_response_json": (None, [InputP, _c.c_char_p, _c.c_size_t]),
    "gavel_input_set_principal_json": (None, [InputP, _c.c_char_p, _c.c_size_t]),
    "gavel_input_set_context_json": (None, [InputP, _c.c_char_p, _c.c_size_t]),
    "gavel_input_set_env_json": (None, [InputP, _c.c_char_p, _c.c_size_t]),
    "gavel_input_set_endpoint": (None, [InputP, _c.c_char_p, _c.c_size_t]),
    "gavel_input_set_input_tokens": (None, [InputP, _c.c_int64]),
    "gavel_input_set_response_phase": (None, [InputP, _c.c_int]),
    "gavel_input_set_string": (None, [InputP, _c.c_char_p, _c.c_size_t, _c.c_char_p, _c.c_size_t]),
    "gavel_input_set_int": (None, [InputP, _c.c_char_p, _c.c_size_t, _c.c_int64]),
    "gavel_input_set_float": (None, [InputP, _c.c_char_p, _c.c_size_t, _c.c_double]),
    "gavel_input_set_bool": (None, [InputP, _c.c_char_p, _c.c_size_t, _c.c_int]),
    "gavel_input_set_string_list": (
        None,
        [InputP, _c.c_char_p, _c.c_size_t, _c.POINTER(_c.c_char_p), _c.POINTER(_c.c_size_t), _c.c_size_t],
    ),
    # deciding
    "gavel_decide": (DecisionP, [WorkerP, InputP, ErrP]),
    # decision accessors; strings come back as c_void_p + length
    "gavel_decision_allowed": (_c.c_int, [DecisionP]),
    "gavel_decision_status": (_c.c_int, [DecisionP]),
    "gavel_decision_code": (_c.c_void_p, [DecisionP, SizeP]),
    "gavel_decision_message": (_c.c_void_p, [DecisionP, SizeP]),
    "gavel_decision_route": (_c.c_void_p, [DecisionP, SizeP]),
    "gavel_decision_rule_count": (_c.c_size_t, [DecisionP]),
    "gavel_decision_rule_name": (_c.c_void_p, [DecisionP, _c.c_size_t, SizeP]),
    "gavel_decision_rule_effect": (_c.c_int, [DecisionP, _c.c_size_t]),  # gavel_effect_t, an int-sized enum
    "gavel_decision_rule_code": (_c.c_void_p, [DecisionP, _c.c_size_t, SizeP]),
    "gavel_decision_rule_message": (_c.c_void_p, [DecisionP, _c.c_size_t, SizeP]),
    "gavel_decision_error_count": (_c.c_size_t, [DecisionP]),
    "gavel_decision_error_rule": (_c.c_void_p, [DecisionP, _c.c_size_t, SizeP]),
    "gavel_decision_error_message": (_c.c_void_p, [DecisionP, _c.c_size_t, SizeP]),
    "gavel_decision_redaction_count": (_c.c_size_t, [DecisionP]),
    "gavel_decision_redaction": (
        _c.c_int,
        [
            DecisionP,
            _c.c_size_t,
            _c.POINTER(_c.c_void_p),
            SizeP,
            SizeP,
            SizeP,
            _c.POINTER(_c.c_void_p),
            SizeP,
            _c.POINTER(_c.c_void_p),
            SizeP,
        ],
    ),
    "gavel_decision_redacted_count": (_c.c_size_t, [DecisionP]),
    "gavel_decision_redacted_field": (_c.c_void_p, [DecisionP, _c.c_size_t, SizeP]),
    "gavel_decision_redacted_text": (_c.c_void_p, [DecisionP, _c.c_size_t, SizeP]),
    # streamed responses
    "gavel_stream_create": (StreamP, [EngineP, _c.c_size_t, ErrP]),
    "gavel_stream_destroy": (None, [StreamP]),
    "gavel_stream_write": (
        DecisionP,
        [StreamP, WorkerP, InputP, _c.c_char_p, _c.c_size_t, _c.POINTER(_c.c_void_p), SizeP, ErrP],
    ),
    "gavel_stream_finish": (DecisionP, [StreamP, WorkerP, InputP, _c.POINTER(_c.c_void_p), SizeP, ErrP]),
    "gavel_decision_bundle_hash": (_c.c_void_p, [DecisionP, SizeP]),
    "gavel_decision_bundle_signer": (_c.c_void_p, [DecisionP, SizeP]),
    "gavel_decision_eval_ns": (_c.c_uint64, [DecisionP]),
    "gavel_decision_json": (_c.c_void_p, [DecisionP, SizeP]),
}
del _c


class LibraryNotFound(OSError):
    """libgavel could not be located or loaded."""


class Library:
    """A loaded libgavel with every prototype the binding uses declared."""

    def __init__(self, path):
        self.path = path
        try:
            self.cdll = ctypes.CDLL(path)
        except OSError as e:
            raise LibraryNotFound("cannot load libgavel from %r: %s" % (path, e)) from e
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(self.cdll, name)
            except AttributeError as e:
                raise LibraryNotFound("%s does not export %s (not a compatible libgavel)" % (path, name)) from e
            fn.restype = restype
            fn.argtypes = argtypes
            setattr(self, name[len("gavel_"):], fn)
        # Not `version`/`bundle_format`: those attributes are the functions.
        self.version_string = self.cdll.gavel_version().decode("ascii")
        self.newest_bundle_format = int(self.cdll.gavel_bundle_format())

    def take_string(self, ptr):
        """Copies a malloc'd NUL-terminated string and frees it with gavel_free."""
        if not ptr:
            return None
        try:
            return ctypes.string_at(ptr).decode("utf-8", "replace")
        finally:
            self.free(ptr)

    def __repr__(self):
        return "<gavel library %s, version %s>" % (self.path, self.version_string)


_cache = {}
_cache_lock = threading.Lock()


def find_library_path(path=None):
    """Where libgavel is: `path`, else $GAVEL_LIBRARY, else ctypes.util.find_library("gavel")."""
    if path:
        return os.fspath(path)
    env = os.environ.get("GAVEL_LIBRARY")
    if env:
        return env
    found = ctypes.util.find_library("gavel")
    if found:
        return found
    raise LibraryNotFound(
        "libgavel not found: pass library=PATH, set GAVEL_LIBRARY to the path of libgavel.so, "
        "or install it where the dynamic linker finds it"
    )


def load(path=None):
    """Returns the Library for `path` (see find_library_path), loading it once per path."""
    resolved = find_library_path(path)
    key = os.path.realpath(resolved) if os.path.sep in resolved else resolved
    with _cache_lock:
        lib = _cache.get(key)
        if lib is None:
            lib = _cache[key] = Library(resolved)
        return lib
