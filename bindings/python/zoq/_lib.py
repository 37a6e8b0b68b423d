"""Loading libzoq and declaring its C API for ctypes.

The library is looked for, in order, at $ZOQ_LIBRARY (a path to the .so),
next to this file (a libzoq.so* copied into the package), then by the
system loader. Every C function the bindings call is declared once in
PROTOTYPES below: binding a new zoq function is one line there plus the
Python wrapper that uses it.
"""
import ctypes as C
import ctypes.util
import glob
import os

#: Major version of the C API these bindings speak (ZOQ_VERSION_MAJOR).
VERSION_MAJOR = 0
#: Oldest library version (ZOQ_VERSION_NUMBER) with every function declared below.
VERSION_MIN = 100

# ---- structs (field order and types exactly as in include/zoq/*.h) ------


class ParamDesc(C.Structure):
    _fields_ = [("size", C.c_size_t), ("name", C.c_char_p), ("data", C.c_void_p),
                ("dtype", C.c_int32), ("device", C.c_int32), ("numel", C.c_int64),
                ("group", C.c_char_p), ("flags", C.c_uint32), ("reserved_", C.c_uint32),
                ("rows", C.c_int64), ("cols", C.c_int64), ("stride", C.c_int64)]


class Point(C.Structure):
    _fields_ = [("query", C.c_int32), ("reserved_", C.c_int32), ("coef", C.c_double)]


class Eval(C.Structure):
    _fields_ = [("size", C.c_size_t), ("step", C.c_uint64), ("point", C.c_int32),
                ("n_points", C.c_int32), ("query", C.c_int32), ("reserved_", C.c_int32),
                ("coef", C.c_double), ("lr", C.c_double), ("eps", C.c_double)]


class Report(C.Structure):
    _fields_ = [("size", C.c_size_t), ("step", C.c_uint64), ("loss", C.c_double),
                ("lr", C.c_double), ("eps", C.c_double), ("grad_norm", C.c_double),
                ("n_points", C.c_int32), ("n_queries", C.c_int32),
                ("losses", C.POINTER(C.c_double)), ("proj_grads", C.POINTER(C.c_double)),
                ("failed_point", C.c_int32), ("callback_status", C.c_int32),
                ("passes", C.c_int64), ("applied", C.c_int32), ("n_clipped", C.c_int32)]


class PrefParams(C.Structure):
    _fields_ = [("size", C.c_size_t), ("loss", C.c_int32), ("scale_rewards", C.c_int32),
                ("beta", C.c_double), ("label_smoothing", C.c_double), ("gamma", C.c_double),
                ("alpha", C.c_double), ("lambda_", C.c_double),
                ("desirable_weight", C.c_double), ("undesirable_weight", C.c_double),
                ("clip_eps", C.c_double)]


_pd = C.POINTER(C.c_double)


class PrefBatch(C.Structure):
    _fields_ = [("size", C.c_size_t), ("n", C.c_int64),
                ("chosen_logps", _pd), ("rejected_logps", _pd),
                ("chosen_tokens", _pd), ("rejected_tokens", _pd),
                ("ref_chosen_logps", _pd), ("ref_rejected_logps", _pd),
                ("chosen_nll", _pd), ("labels", C.POINTER(C.c_int32)),
                ("kl_logps", _pd), ("kl_ref_logps", _pd), ("n_kl", C.c_int64),
                ("kto_z0", C.c_double), ("group_ids", C.POINTER(C.c_int64)),
                ("rewards", _pd), ("old_logps", _pd)]


class PrefResult(C.Structure):
    _fields_ = [("size", C.c_size_t), ("loss", C.c_double), ("reward_chosen", C.c_double),
                ("reward_rejected", C.c_double), ("reward_accuracy", C.c_double),
                ("margin", C.c_double), ("kl", C.c_double), ("nll", C.c_double),
                ("log_odds", C.c_double), ("baseline", C.c_double),
                ("item_losses", _pd), ("advantages", _pd)]


class PrefEval(C.Structure):
    _fields_ = [("size", C.c_size_t), ("n", C.c_int64), ("correct", C.c_int64),
                ("ties", C.c_int64), ("accuracy", C.c_double), ("mean_margin", C.c_double),
                ("sd_margin", C.c_double)]


class PrefGuard(C.Structure):
    _fields_ = [("size", C.c_size_t), ("alpha", C.c_double),
                ("min_accuracy_gain", C.c_double), ("min_margin_gain", C.c_double),
                ("require_significant", C.c_int32), ("reserved_", C.c_int32)]


OBJECTIVE_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(Eval), C.POINTER(C.c_double))
SCORER_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(Eval), C.POINTER(C.c_int64), C.c_int64,
                        C.POINTER(C.c_double), C.POINTER(C.c_double))


class PrefObjectiveDesc(C.Structure):
    _fields_ = [("size", C.c_size_t), ("params", C.POINTER(PrefParams)),
                ("n_items", C.c_int64), ("scorer", SCORER_FN), ("scorer_user", C.c_void_p),
                ("labels", C.POINTER(C.c_int32)), ("kto_z0", C.c_double),
                ("group_ids", C.POINTER(C.c_int64)), ("rewards", _pd),
                ("aero", C.c_void_p)]


class QMatrix(C.Structure):
    _fields_ = [("size", C.c_size_t), ("format", C.c_int32), ("group_size", C.c_int32),
                ("rows", C.c_int64), ("cols", C.c_int64), ("codes", C.c_void_p),
                ("scales", C.POINTER(C.c_float)), ("zeros", C.POINTER(C.c_uint8))]


class StInfo(C.Structure):
    _fields_ = [("size", C.c_size_t), ("name", C.c_char_p), ("dtype", C.c_int32),
                ("ndim", C.c_int32), ("shape", C.c_int64 * 8), ("numel", C.c_int64),
                ("nbytes", C.c_uint64), ("offset", C.c_uint64)]


class PeftModule(C.Structure):
    _fields_ = [("size", C.c_size_t), ("module", C.c_char_p), ("rank", C.c_int32),
                ("dtype", C.c_int32), ("in_features", C.c_int64), ("out_features", C.c_int64),
                ("alpha", C.c_double), ("a", C.c_void_p), ("b", C.c_void_p)]


class PeftConfig(C.Structure):
    _fields_ = [("size", C.c_size_t), ("base_model", C.c_char_p), ("task_type", C.c_char_p),
                ("file_dtype", C.c_int32), ("reserved_", C.c_int32), ("flags", C.c_uint32),
                ("reserved2_", C.c_uint32)]


class Lora(C.Structure):
    _fields_ = [("size", C.c_size_t), ("module", C.c_char_p), ("type", C.c_char_p),
                ("in_features", C.c_int64), ("out_features", C.c_int64), ("rank", C.c_int32),
                ("flags", C.c_uint32), ("alpha", C.c_double),
                ("a", C.POINTER(C.c_float)), ("b", C.POINTER(C.c_float))]


class LoraBest(C.Structure):
    _fields_ = [("size", C.c_size_t), ("valid", C.c_int32), ("reserved_", C.c_int32),
                ("score", C.c_double), ("tag", C.c_int64)]


ROTATION_MAX_MODULES, ROTATION_MAX_NIGHTS, ROTATION_MAX_LOSSES, ROTATION_NAME_CAP = 32, 64, 64, 32


class Rotation(C.Structure):
    _fields_ = [("size", C.c_size_t), ("n_modules", C.c_int32), ("n_nights", C.c_int32),
                ("n_losses", C.c_int32), ("reserved_", C.c_int32), ("ffn_mask", C.c_uint64),
                ("modules", (C.c_char * ROTATION_NAME_CAP) * ROTATION_MAX_MODULES),
                ("nights", C.c_uint64 * ROTATION_MAX_NIGHTS),
                ("losses", C.c_int32 * ROTATION_MAX_LOSSES)]


# ---- functions: name -> (restype, argtypes) --------------------------------

_i, _i32, _i64, _u32, _u64 = C.c_int, C.c_int32, C.c_int64, C.c_uint32, C.c_uint64
_vp, _cp, _sz, _d = C.c_void_p, C.c_char_p, C.c_size_t, C.c_double
_P = C.POINTER

PROTOTYPES = {
    "zoq_version_number": (C.c_uint, []),
    "zoq_version": (_cp, []),
    "zoq_strerror": (_cp, [_i]),
    "zoq_create": (_i, [_P(_vp)]),
    "zoq_destroy": (None, [_vp]),
    "zoq_last_error": (_cp, [_vp]),
    "zoq_set_int": (_i, [_vp, _i, _i64]),
    "zoq_set_double": (_i, [_vp, _i, _d]),
    "zoq_get_int": (_i, [_vp, _i, _P(_i64)]),
    "zoq_get_double": (_i, [_vp, _i, _P(_d)]),
    "zoq_opt_find": (_i, [_cp, _P(_i), _P(_i)]),
    "zoq_opt_name": (_cp, [_i]),
    "zoq_param_add_desc": (_i, [_vp, _P(ParamDesc), _P(_i32)]),
    "zoq_param_add": (_i, [_vp, _cp, _vp, _i, _i64, _P(_i32)]),
    "zoq_param_count": (_i32, [_vp]),
    "zoq_param_find": (_i, [_vp, _cp, _P(_i32)]),
    "zoq_param_set_data": (_i, [_vp, _i32, _vp]),
    "zoq_param_set_enabled": (_i, [_vp, _i32, _i]),
    "zoq_group_set_enabled": (_i, [_vp, _cp, _i, _P(_i32)]),
    "zoq_param_enabled_numel": (_i, [_vp, _P(_i64)]),
    "zoq_tensor_key": (_u64, [_u64, _cp]),
    "zoq_noise_fill": (_i, [_u64, _u64, _u32, _u32, _i, _u64, _sz, _P(C.c_float)]),
    "zoq_noise_axpy": (_i, [_u64, _u64, _u32, _u32, _i, _u64, _sz, C.c_float, _P(C.c_float)]),
    "zoq_set_objective": (_i, [_vp, _vp, _vp]),
    "zoq_step": (_i, [_vp, _P(Report)]),
    "zoq_ask": (_i, [_vp, _P(_P(Point)), _P(_i32)]),
    "zoq_materialize": (_i, [_vp, _i32, _i32, _vp]),
    "zoq_point_noise": (_i, [_vp, _i32, _i32, _i64, _i64, _P(C.c_float)]),
    "zoq_tell": (_i, [_vp, _P(_d), _i32, _P(Report)]),
    "zoq_cancel": (_i, [_vp]),
    "zoq_get_step": (_i, [_vp, _P(_u64)]),
    "zoq_param_init_normal": (_i, [_vp, _i32, _d]),
    "zoq_lora_b_warm_start": (_i, [_vp, _d, _P(_i32)]),
    "zoq_skip_step": (_i, [_vp]),
    "zoq_state_save": (_i, [_vp, _cp]),
    "zoq_state_load": (_i, [_vp, _cp]),
    "zoq_pref_loss_name": (_cp, [_i]),
    "zoq_pref_loss_find": (_i, [_cp, _P(_i)]),
    "zoq_pref_params_default": (_i, [_i, _P(PrefParams)]),
    "zoq_pref_params_check": (_i, [_P(PrefParams)]),
    "zoq_pref_loss_eval": (_i, [_P(PrefParams), _P(PrefBatch), _vp, _P(PrefResult)]),
    "zoq_pref_aero_create": (_i, [_d, _P(_vp)]),
    "zoq_pref_aero_free": (None, [_vp]),
    "zoq_pref_aero_update": (_i, [_vp, _P(_d), _i64]),
    "zoq_pref_aero_get": (_i, [_vp, _P(_d), _P(_d), _P(_d), _P(_i64)]),
    "zoq_pref_aero_set": (_i, [_vp, _d, _d, _i64]),
    "zoq_pref_evaluate": (_i, [_P(_d), _P(_d), _i64, _P(PrefEval)]),
    "zoq_stats_ztest_2prop": (_i, [_i64, _i64, _i64, _i64, _P(_d), _P(_d)]),
    "zoq_stats_mde": (_i, [_i64, _d, _d, _d, _i, _P(_d)]),
    "zoq_pref_guard_default": (_i, [_P(PrefGuard)]),
    "zoq_pref_guard_decide": (_i, [_P(PrefGuard), _P(PrefEval), _P(PrefEval), _P(_i),
                                   _P(_d)]),
    "zoq_pref_raft_filter": (_i, [_P(_d), _P(_d), _i64, _d, _d, _P(_i64), _P(_i64)]),
    "zoq_pref_curriculum_sort": (_i, [_P(_d), _P(_d), _i64, _P(_i64), _i64]),
    "zoq_pref_objective_create": (_i, [_P(PrefObjectiveDesc), _P(_vp)]),
    "zoq_pref_objective_free": (None, [_vp]),
    "zoq_pref_objective_set_batch": (_i, [_vp, _P(_i64), _i64]),
    "zoq_pref_objective_eval": (_i, [_vp, _P(Eval), _P(_d)]),
    "zoq_pref_objective_eval_point": (_i, [_vp, _vp, _i32, _P(_d)]),
    "zoq_pref_objective_step_done": (_i, [_vp]),
    "zoq_pref_objective_last": (_i, [_vp, _P(PrefResult)]),
    "zoq_qmatrix_sizes": (_i, [_i, _i64, _i64, _i32, _P(_sz), _P(_sz), _P(_sz)]),
    "zoq_qmatrix_quantize": (_i, [_P(C.c_float), _P(QMatrix)]),
    "zoq_qmatrix_dequantize": (_i, [_P(QMatrix), _P(C.c_float)]),
    "zoq_qmatrix_matvec": (_i, [_P(QMatrix), _P(C.c_float), _P(C.c_float)]),
    "zoq_qmatrix_matmul": (_i, [_P(QMatrix), _P(C.c_float), _i64, _P(C.c_float)]),
    "zoq_q4_pack": (_i, [_P(C.c_uint8), _sz, _P(C.c_uint8)]),
    "zoq_q4_unpack": (_i, [_P(C.c_uint8), _sz, _P(C.c_uint8)]),
    "zoq_run": (_i, [_vp, _i64, _P(_i64), _P(Report)]),
    "zoq_param_set_codes": (_i, [_vp, _i32, _i32, _i32, _P(C.c_float), _i64]),
    "zoq_param_add_qscales": (_i, [_vp, _cp, _P(QMatrix), _P(_i32)]),
    "zoq_param_add_qcodes": (_i, [_vp, _cp, _P(QMatrix), _P(_i32)]),
    "zoq_st_open": (_i, [_cp, _P(_vp), _cp, _sz]),
    "zoq_st_open_memory": (_i, [_vp, _sz, _P(_vp), _cp, _sz]),
    "zoq_st_free": (None, [_vp]),
    "zoq_st_count": (_i64, [_vp]),
    "zoq_st_info": (_i, [_vp, _i64, _P(StInfo)]),
    "zoq_st_find": (_i, [_vp, _cp, _P(_i64)]),
    "zoq_st_read": (_i, [_vp, _i64, _i, _vp, _sz]),
    "zoq_st_metadata_count": (_i64, [_vp]),
    "zoq_st_metadata_at": (_i, [_vp, _i64, _P(_cp), _P(_cp)]),
    "zoq_st_metadata_get": (_i, [_vp, _cp, _P(_cp)]),
    "zoq_st_writer_create": (_i, [_P(_vp)]),
    "zoq_st_writer_free": (None, [_vp]),
    "zoq_st_writer_add": (_i, [_vp, _cp, _i32, _P(_i64), _vp, _i, _i]),
    "zoq_st_writer_set_metadata": (_i, [_vp, _cp, _cp]),
    "zoq_st_writer_write": (_i, [_vp, _cp]),
    "zoq_st_writer_last_error": (_cp, [_vp]),
    "zoq_peft_save": (_i, [_cp, _P(PeftConfig), _P(PeftModule), _i64, _cp, _sz]),
    "zoq_peft_open": (_i, [_cp, _P(_vp), _cp, _sz]),
    "zoq_peft_free": (None, [_vp]),
    "zoq_peft_count": (_i64, [_vp]),
    "zoq_peft_module_info": (_i, [_vp, _i64, _P(PeftModule)]),
    "zoq_peft_find": (_i, [_vp, _cp, _P(_i64)]),
    "zoq_peft_read": (_i, [_vp, _i64, _i, _vp, _sz, _vp, _sz]),
    "zoq_lora_add": (_i, [_vp, _P(Lora), _P(_i32), _P(_i32)]),
    "zoq_lora_init": (_i, [_vp, _i32, _i32, _d]),
    "zoq_lora_apply": (_i, [_P(Lora), _P(C.c_float), _i64, _P(C.c_float)]),
    "zoq_lora_merge": (_i, [_P(Lora), _d, _P(C.c_float)]),
    "zoq_lora_ema": (_i, [_P(C.c_float), _P(C.c_float), _i64, _d]),
    "zoq_lora_best_offer": (_i, [_P(LoraBest), _d, _i64, _P(_i)]),
    "zoq_rotation_default": (_i, [_P(Rotation)]),
    "zoq_rotation_generate": (_i, [_P(_cp), _i32, _u64, _i32, _P(_i32), _i32, _P(Rotation)]),
    "zoq_rotation_check": (_i, [_P(Rotation), _P(_u32), _cp, _sz]),
    "zoq_rotation_supercycle": (_i, [_P(Rotation), _P(_i64)]),
    "zoq_rotation_night": (_i, [_P(Rotation), _i64, _P(_u64), _P(_i32)]),
    "zoq_rotation_apply": (_i, [_vp, _P(Rotation), _i64, _P(_i32)]),
}


HELP = """To fix it, either:
  - install the package with the library inside, from a zoq checkout:
      pip install ./bindings/python     (runs `make lib`; `make deps` installs what it needs)
  - or point at a built library:  make lib && export ZOQ_LIBRARY=$PWD/build/libzoq.so
  - or install libzoq system-wide:  make install  (then ldconfig; docs/getting-started.md)"""


class LibraryError(ImportError):
    """libzoq could not be found, loaded, or is of an incompatible version."""


def _candidates():
    env = os.environ.get("ZOQ_LIBRARY")
    if env:
        return [env]  # an explicit choice is never second-guessed
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "libzoq.so*")), key=len)
    system = ctypes.util.find_library("zoq")
    return found + ([system] if system else []) + ["libzoq.so.%d" % VERSION_MAJOR]


def load():
    """Loads libzoq, checks its version and declares PROTOTYPES on it."""
    errors = []
    for path in _candidates():
        try:
            lib = C.CDLL(path)
            break
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    else:
        raise LibraryError("libzoq not found; tried:\n  " + "\n  ".join(errors) + "\n" + HELP)
    lib.zoq_version_number.restype = C.c_uint
    number = lib.zoq_version_number()
    if number // 10000 != VERSION_MAJOR or number < VERSION_MIN:
        raise LibraryError("libzoq at %s is version %d.%d.%d; these bindings need %d.x >= %d.%d"
                           % (lib._name, number // 10000, number // 100 % 100, number % 100,
                              VERSION_MAJOR, VERSION_MAJOR, VERSION_MIN // 100 % 100))
    for name, (restype, argtypes) in PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = load()
