"""zoq.Optimizer: parameters, options, the in-place step, ask/tell, state."""
import time
import warnings

import numpy as np
import pytest

import zoq


def quad(w, target=1.0):
    return lambda: float(((w.astype(np.float64) - target) ** 2).sum())


def make(n=16, **opts):
    w = np.zeros(n, np.float32)
    opts.setdefault("seed", 3)
    return w, zoq.Optimizer({"w": w}, **opts)


# ---- construction and parameters -------------------------------------------

def test_step_drives_a_quadratic_down_in_place():
    w, opt = make(lr=0.02, eps=1e-3, queries=4)
    start = quad(w)()
    for _ in range(400):
        rep = opt.step(quad(w))
    assert quad(w)() < 1e-2 * start
    assert isinstance(rep, zoq.Report) and rep.applied and rep.step == 399
    assert rep.n_points == 8 and rep.n_queries == 4 and rep.passes == 9
    assert rep.losses.shape == (8,) and rep.proj_grads.shape == (4,)
    assert rep.lr == 0.02 and rep.eps == 1e-3 and rep.failed_point == -1
    assert rep.callback_status == 0 and rep.n_clipped == 0 and not rep.stopped
    assert rep.grad_norm == pytest.approx(np.sqrt(np.mean(rep.proj_grads ** 2)))
    assert abs(rep.loss - quad(w)()) < 0.05 and "Report(step=399" in repr(rep)


@pytest.mark.parametrize("form", ["dict", "list", "pairs"])
def test_params_as_dict_list_or_pairs(form):
    a, b = np.ones(3, np.float32), np.ones((2, 4), np.float32)
    params = {"dict": {"a": a, "b": b}, "list": [a, b], "pairs": [("a", a), ("b", b)]}[form]
    opt = zoq.Optimizer(params)
    names = ["0", "1"] if form == "list" else ["a", "b"]
    assert list(opt.params) == names and len(opt) == 2
    assert opt.params[names[1]] is b and opt.param_id(names[1]) == 1
    assert opt.enabled_numel == 11


@pytest.mark.parametrize("dtype", [np.float16, np.uint16])
def test_half_precision_parameters_train_in_place(dtype):
    if dtype == np.uint16:  # bfloat16 bits: 1.0 is 0x3f80
        w = np.full(8, 0x3F80, np.uint16)
        value = lambda: (w.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    else:
        w = np.ones(8, np.float16)
        value = lambda: w.astype(np.float64)
    opt = zoq.Optimizer({"w": w}, lr=0.05, eps=1e-2, queries=2, seed=1)
    for _ in range(100):
        opt.step(lambda: float((value() ** 2).sum()))
    assert (value() ** 2).sum() < 0.5 * 8


def test_bad_arrays_are_refused_with_reasons():
    with pytest.raises(TypeError, match="float32, float16, bfloat16 .* or int8"):
        zoq.Optimizer({"w": np.zeros(4)})
    with pytest.raises(TypeError, match="numpy array"):
        zoq.Optimizer({"w": [1.0, 2.0]})
    with pytest.raises(ValueError, match="C-contiguous"):
        zoq.Optimizer({"w": np.zeros((4, 4), np.float32)[:, :2]})
    with pytest.raises(zoq.InvalidError, match="stride"):
        zoq.Optimizer({"w": np.zeros(8, np.float32)[::-2]})
    ro = np.zeros(4, np.float32)
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="writable"):
        zoq.Optimizer({"w": ro})
    with pytest.raises(zoq.InvalidError, match="name"):
        zoq.Optimizer({"": np.zeros(4, np.float32)})


@pytest.mark.parametrize("dtype", [np.float16, np.uint16])
def test_strided_view_trains_as_a_dense_array_and_keeps_the_bytes_between(dtype):
    # the f16/bf16 (uint16 bits) scale at the start of each 18-byte block (Q4_0's layout)
    n = 64
    blocks = np.full((n, 18), 0xA5, np.uint8)
    view = blocks[:, :2].view(dtype)[:, 0]
    view[:] = 0
    dense = np.zeros(n, dtype)
    assert view.strides == (18,)

    def loss(w):
        def value():
            if dtype == np.float16:
                return w.astype(np.float64)
            return (w.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        return lambda: float(((value() - 0.5) ** 2).sum())

    opts = dict(lr=0.01, eps=1e-2, seed=5)
    a, b = zoq.Optimizer({"s": dense}, **opts), zoq.Optimizer({"s": view}, **opts)
    for _ in range(5):
        a.step(loss(dense))
        b.step(loss(view))
    assert np.array_equal(view, dense) and dense.any()
    assert (blocks[:, 2:] == 0xA5).all()
    m = blocks[:, 2:4].view(dtype)[:, 0]  # interleaved with the scales: no overlap
    assert b.add_param("m", m) == 1
    with pytest.raises(zoq.ExistsError, match="overlaps parameter 's'"):
        b.add_param("bytes", blocks[:4].reshape(-1)[:8].view(dtype))


def test_duplicate_and_unknown_names():
    w, opt = make()
    with pytest.raises(zoq.ExistsError) as e:
        opt.add_param("w", np.zeros(2, np.float32))
    assert e.value.status == -5 and "w" in e.value.message
    with pytest.raises(zoq.NotFoundError):
        opt.param_id("nope")
    with pytest.raises(zoq.NotFoundError):
        opt.set_group_enabled("nope", False)


def test_same_array_twice_or_overlapping_views_are_refused():
    buf = np.zeros(8, np.float32)
    opt = zoq.Optimizer({"a": buf[:4]})
    with pytest.raises(zoq.ExistsError, match=r"'again'.* overlaps parameter 'a'"):
        opt.add_param("again", buf[:4])
    with pytest.raises(zoq.ExistsError, match="overlaps parameter 'a'"):
        opt.add_param("view", buf[3:6])
    assert opt.add_param("rest", buf[4:]) == 1  # adjacent, not overlapping
    with pytest.raises(zoq.ExistsError, match="overlaps parameter 'rest'"):
        opt.set_data("a", buf[2:6])
    assert list(opt.params) == ["a", "rest"] and len(opt) == 2


def test_groups_enable_and_disable():
    a, b, c = (np.zeros(n, np.float32) for n in (2, 3, 4))
    opt = zoq.Optimizer()
    assert opt.add_param("a", a, group="g") == 0
    assert opt.add_param("b", b, group="g", flags=zoq.PARAM_LORA_A) == 1
    opt.add_param("c", c, flags=zoq.PARAM_DISABLED)
    assert opt.enabled_numel == 5
    assert opt.set_group_enabled("g", False) == 2 and opt.enabled_numel == 0
    opt.set_enabled("c", True)
    assert opt.enabled_numel == 4
    opt.set(lr=0.1)
    opt.step(lambda: float(((c - 1) ** 2).sum()))
    assert not a.any() and not b.any() and c.any()


@pytest.mark.parametrize("form", ["names", "function", "flags"])
def test_no_decay_parameters_keep_their_value_under_decay(form):
    # constant losses: g = 0, so a step only decays; ask/tell moves nothing else
    w, b, ln = (np.linspace(-2, 3, 40).astype(np.float32) for _ in range(3))
    start = w.copy()
    params = {"w": w, "b": b, "ln.weight": ln}
    if form == "flags":
        opt = zoq.Optimizer(lr=0.1, weight_decay=0.5, optimizer="momentum")
        opt.add_param("w", w)
        opt.add_param("b", b, flags=zoq.PARAM_NO_DECAY)
        opt.add_param("ln.weight", ln, flags=zoq.PARAM_NO_DECAY)
    else:
        exempt = {"b", "ln.weight"} if form == "names" else (lambda n: n != "w")
        opt = zoq.Optimizer(params, no_decay=exempt, lr=0.1, weight_decay=0.5,
                            optimizer="momentum")
    factor = np.float32(1.0 - 0.1 * 0.5)  # the decay factor, rounded to binary32
    want = start.copy()
    for _ in range(3):
        opt.tell([2.0] * len(opt.ask()))
        want = want * factor
        np.testing.assert_array_equal(w, want)
        np.testing.assert_array_equal(b, start)
        np.testing.assert_array_equal(ln, start)
    assert not np.array_equal(w, start)


def test_no_decay_names_must_be_parameters():
    with pytest.raises(ValueError, match="'bias'"):
        zoq.Optimizer({"w": np.zeros(4, np.float32)}, no_decay={"bias"})


def test_set_data_repoints_a_parameter():
    w, opt = make(4, lr=0.1)
    w2 = np.zeros(4, np.float32)
    opt.set_data("w", w2)
    assert opt.params["w"] is w2
    opt.step(quad(w2))
    assert not w.any() and w2.any()
    with pytest.raises(ValueError, match="float32 array of 4"):
        opt.set_data("w", np.zeros(5, np.float32))


def test_init_normal_and_lora_b_warm_start():
    a, b = np.zeros(1000, np.float32), np.zeros(1000, np.float32)
    opt = zoq.Optimizer(seed=5)
    opt.add_param("a", a)
    opt.add_param("b", b, flags=zoq.PARAM_LORA_B)
    opt.init_normal("a", 2.0)
    assert 1.8 < a.std() < 2.2
    assert opt.lora_b_warm_start(0.5) == 1
    assert 0.45 < b.std() < 0.55
    with pytest.raises(zoq.InvalidError):
        opt.init_normal("a", -1.0)
    with pytest.raises(zoq.InvalidError):
        opt.lora_b_warm_start(float("nan"))


# ---- options ---------------------------------------------------------------

def test_options_by_name_with_enum_names():
    w, opt = make(lr=0.5, queries=3, optimizer="adam", lr_schedule="cosine", total_steps=10,
                  dist="rademacher", estimator="forward", sparse="random", sign=True)
    assert opt.get("lr") == 0.5 and opt.get("queries") == 3
    assert opt.get("optimizer") == "adam" and opt.get("lr_schedule") == "cosine"
    assert opt.get("dist") == "rademacher" and opt.get("estimator") == "forward"
    assert opt.get("sparse") == "random" and opt.get("sign") == 1
    for name, values in zoq.ENUMS.items():
        opt.set(**{name: len(values) - 1})  # numbers still set them
        assert opt.get(name) == values[-1]


def test_option_errors():
    w, opt = make()
    with pytest.raises(zoq.NotFoundError, match="unknown option 'learning_rate'"):
        opt.set(learning_rate=1)
    with pytest.raises(zoq.NotFoundError):
        opt.get("learning_rate")
    with pytest.raises(ValueError, match="one of sgd, momentum, adam"):
        opt.set(optimizer="lion")
    with pytest.raises(TypeError, match="integer"):
        opt.set(queries=2.5)
    with pytest.raises(zoq.InvalidError) as e:
        opt.set(eps=0.0)
    assert "eps" in str(e.value) and opt.last_error == e.value.message
    assert opt.get("eps") == 1e-3  # refused values leave the old one


# ---- the in-place step -----------------------------------------------------

def test_exception_in_closure_propagates_after_restore():
    w, opt = make(8, lr=0.1)
    opt.step(quad(w))
    before = w.copy()
    calls = []

    def closure():
        calls.append(opt.current_eval.point)
        if len(calls) == 2:
            raise KeyError("engine failed")
        return quad(w)()
    with pytest.raises(KeyError, match="engine failed"):
        opt.step(closure)
    assert calls == [0, 1]
    np.testing.assert_allclose(w, before, atol=1e-6)
    assert opt.step_count == 1 and opt.current_eval is None
    opt.step(quad(w))  # the optimizer is still usable
    assert opt.step_count == 2


def test_stop_abandons_the_step():
    w, opt = make(8, lr=0.1)

    def closure():
        raise zoq.Stop()
    rep = opt.step(closure)
    assert rep.stopped and not w.any() and opt.step_count == 0


def test_nonfinite_loss_raises_and_restores():
    w, opt = make(8, lr=0.1)
    with pytest.raises(zoq.NonFiniteError):
        opt.step(lambda: float("nan"))
    assert not w.any() and opt.step_count == 0


def test_closure_sees_the_point_it_evaluates():
    w, opt = make(4, eps=0.5, queries=2, estimator="forward")
    seen = []

    def closure():
        seen.append(opt.current_eval)
        return quad(w)()
    opt.step(closure)
    assert [e.point for e in seen] == [0, 1, 2] and seen[0].n_points == 3
    assert seen[0].query == -1 and seen[0].coef == 0 and seen[1].coef == 0.5
    assert seen[1].eps == 0.5 and seen[1].lr == 1e-3 and seen[1].step == 0
    assert "EvalInfo(step=0" in repr(seen[0])


# ---- ask/tell --------------------------------------------------------------

def test_ask_tell_equals_the_in_place_step():
    w1, o1 = make(32, lr=0.05, queries=3)
    w2, o2 = make(32, lr=0.05, queries=3)
    for _ in range(5):
        o1.step(quad(w1))
        pts = o2.ask()
        assert len(pts) == 6 and pts[0].query == 0 and pts[1].coef == -1e-3
        assert "Point(query=0" in repr(pts[0])
        buf = np.empty_like(w2)
        losses = [quad(o2.materialize(i, "w", out=buf))() for i in range(len(pts))]
        rep = o2.tell(losses)
    # same directions and update; only the float rounding of in-place ±εz differs
    np.testing.assert_allclose(w1, w2, rtol=0, atol=1e-4)
    assert np.abs(w1).max() > 0.05
    assert rep.step == 4 and o2.step_count == 5


def test_point_noise_is_the_materialized_direction_and_the_stream():
    w, opt = make(64, eps=0.25, seed=9)
    pts = opt.ask()
    z = opt.point_noise(0, "w")
    np.testing.assert_allclose(opt.materialize(0, "w"), w + 0.25 * z, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(opt.point_noise(1, "w", offset=10, count=5), z[10:15])
    key = zoq.tensor_key(9, "w")
    np.testing.assert_array_equal(zoq.noise(key, 0, pts[0].query, 64), z)
    out = np.empty(64, np.float32)
    assert zoq.noise(key, 0, 0, 64, out=out) is out


def test_noise_axpy_is_fill_then_add():
    key = zoq.tensor_key(3, "layer")
    for dist in ("gaussian", "rademacher"):
        acc = np.linspace(-1, 1, 300, dtype=np.float32)
        want = acc + np.float32(0.125) * zoq.noise(key, 5, 2, 300, offset=77, dist=dist)
        assert zoq.noise_axpy(acc, 0.125, key, 5, 2, offset=77, dist=dist) is acc
        np.testing.assert_array_equal(acc, want)
    with pytest.raises(zoq.InvalidError):
        zoq.noise_axpy(np.zeros(4, np.float32), 1.0, key, 0, 1 << 24)


def test_ask_tell_errors():
    w, opt = make(4)
    with pytest.raises(zoq.StateError):
        opt.tell([1.0, 2.0])
    opt.ask()
    with pytest.raises(zoq.StateError):
        opt.ask()
    with pytest.raises(zoq.StateError):
        opt.set(lr=0.1)
    with pytest.raises(zoq.InvalidError):
        opt.tell([1.0])
    with pytest.raises(ValueError, match="writable"):
        opt.materialize(0, "w", out=np.empty(3, np.float32))
    with pytest.raises(zoq.NotFoundError):
        opt.materialize(0, "v")
    with pytest.raises(TypeError):
        opt.point_noise(0, "w", out=np.empty(4))
    with pytest.raises(zoq.InvalidError):
        opt.point_noise(5, "w")
    with pytest.raises(zoq.NonFiniteError):
        opt.tell([1.0, float("inf")])
    opt.cancel()
    opt.set(lr=0.1)  # no step pending any more
    opt.ask()


def test_skip_step_and_counter():
    w, opt = make(4)
    opt.skip_step()
    opt.skip_step()
    assert opt.step_count == 2 and not w.any()


# ---- state -----------------------------------------------------------------

def test_state_round_trip_resumes_bit_for_bit(tmp_path):
    w1, o1 = make(16, lr=0.05, optimizer="adam")
    for _ in range(3):
        o1.step(quad(w1))
    o1.save(tmp_path / "s.zoqstate")
    w2 = w1.copy()
    o2 = zoq.Optimizer({"w": w2})
    o2.load(str(tmp_path / "s.zoqstate"))
    assert o2.step_count == 3 and o2.get("optimizer") == "adam" and o2.get("lr") == 0.05
    for _ in range(3):
        o1.step(quad(w1))
        o2.step(quad(w2))
    np.testing.assert_array_equal(w1, w2)


def test_load_warns_about_the_options_it_replaces(tmp_path):
    w1, o1 = make(4, lr=0.05, optimizer="adam", seed=3)
    o1.save(tmp_path / "s")
    _, o2 = make(4, lr=0.05, optimizer="sgd", queries=2)
    with pytest.warns(UserWarning, match=r"optimizer='adam' \(was 'sgd'\)") as rec:
        o2.load(tmp_path / "s")
    message = str(rec[0].message)
    assert "lr" not in message and "queries=1 (was 2)" in message  # only what changed
    assert o2.get("optimizer") == "adam" and o2.get("seed") == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoq.Optimizer({"w": np.zeros(4, np.float32)}).load(tmp_path / "s")  # nothing set


def test_state_errors(tmp_path):
    w, opt = make(16)
    with pytest.raises(zoq.FileError) as e:
        opt.load(tmp_path / "missing")
    assert isinstance(e.value, OSError) and e.value.status == -8
    (tmp_path / "junk").write_bytes(b"not a state file at all" * 10)
    with pytest.raises(zoq.FormatError):
        opt.load(tmp_path / "junk")
    opt.save(tmp_path / "s")
    other = zoq.Optimizer({"v": np.zeros(16, np.float32)})
    with pytest.raises(zoq.FormatError) as e:
        other.load(tmp_path / "s")
    assert e.value.status == -11
    with pytest.raises(zoq.FileError):
        opt.save(tmp_path / "no" / "such" / "dir")


# ---- lifetime --------------------------------------------------------------

def test_close_and_context_manager():
    with zoq.Optimizer({"w": np.zeros(2, np.float32)}) as opt:
        assert opt.handle
    opt.close()  # idempotent
    with pytest.raises(zoq.StateError, match="closed"):
        opt.step(lambda: 0.0)
    with pytest.raises(zoq.StateError):
        len(opt)


def test_close_inside_the_closure_raises_and_keeps_the_optimizer():
    w, opt = make(8, lr=0.1)
    opt.step(quad(w))
    before = w.copy()

    def closure():
        opt.close()  # freeing the context under the running step crashed the interpreter
        return 0.0
    for run in (opt.step, lambda c: opt.run(c, 2)):
        with pytest.raises(zoq.StateError, match="inside the closure"):
            run(closure)
        np.testing.assert_allclose(w, before, atol=1e-6)
    assert opt.step_count == 1
    opt.step(quad(w))
    opt.close()
    with pytest.raises(zoq.StateError, match="closed"):
        opt.step(quad(w))


def test_ctrl_c_during_a_step_is_keyboard_interrupt_after_the_restore():
    """SIGINT from another thread while zoq runs the step's passes in C:
    before, Python raised it on the first line of the next callback, outside
    its try, and step() came back with a CallbackError of a garbage status."""
    import os
    import signal
    import threading
    # Python's own handler, whatever this process inherited: a test run started
    # in the background (`cmd &` in a script) inherits SIGINT ignored, and then
    # Ctrl-C never reaches Python at all
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c_trials(os, signal, threading)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_trials(os, signal, threading):
    w = np.full(1 << 22, 0.5, np.float32)  # a pass takes milliseconds
    opt = zoq.Optimizer({"w": w}, lr=1e-4, eps=1e-3, queries=4, seed=1, threads=1)
    before = w.copy()
    outcomes = []
    for trial in range(12):
        go = threading.Event()

        def closure():
            go.set()
            return float(w[:64].sum())

        def interrupt():
            go.wait()
            time.sleep(0.001 * (trial % 4))  # into the passes between the callbacks
            os.kill(os.getpid(), signal.SIGINT)
        t = threading.Thread(target=interrupt)
        t.start()
        step = opt.step_count
        try:
            opt.step(closure)
            time.sleep(1)  # let a signal that came after the step surface here
            outcomes.append("none")
        except KeyboardInterrupt:
            outcomes.append("interrupt")
        except zoq.Error as e:
            outcomes.append(repr(e))
        t.join()
        if opt.step_count == step:  # abandoned: the parameters are back
            np.testing.assert_allclose(w, before, atol=1e-6)
        before = w.copy()
    assert outcomes == ["interrupt"] * 12
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_bad_option_in_constructor_frees_the_context():
    with pytest.raises(zoq.InvalidError):
        zoq.Optimizer({"w": np.zeros(2, np.float32)}, queries=0)


def test_error_hierarchy():
    assert issubclass(zoq.InvalidError, ValueError) and issubclass(zoq.FileError, OSError)
    assert issubclass(zoq.NotFoundError, LookupError)
    assert issubclass(zoq.NoMemoryError, MemoryError)
    assert issubclass(zoq.UnsupportedError, NotImplementedError)
    assert issubclass(zoq.CallbackError, zoq.Error)
    e = zoq.Error(-1, "")
    assert str(e) == "invalid argument" and e.status == -1
    assert str(zoq.InvalidError(-1, "bad x")) == "bad x (invalid argument)"


# ---- run: many steps in one call -------------------------------------------

@pytest.mark.parametrize("estimator", ["central", "forward"])
def test_run_equals_repeated_steps_bit_for_bit(estimator):
    w1, o1 = make(lr=0.02, eps=1e-3, queries=2, estimator=estimator)
    w2, o2 = make(lr=0.02, eps=1e-3, queries=2, estimator=estimator)
    for _ in range(7):
        o1.step(quad(w1))
    assert o2.run(quad(w2), 7) == 7
    assert o2.step_count == 7
    np.testing.assert_array_equal(w1, w2)
    assert o2.run(quad(w2), 0) == 0


def test_run_exception_propagates_and_keeps_the_applied_steps():
    w, opt = make(lr=0.02, eps=1e-3)
    calls = []

    def closure():
        calls.append(1)
        if len(calls) > 4:  # central, one query: 2 losses a step; fails in step 3
            raise KeyError("boom")
        return quad(w)()

    with pytest.raises(KeyError, match="boom"):
        opt.run(closure, 10)
    assert opt.step_count == 2
    w2, o2 = make(lr=0.02, eps=1e-3)
    o2.run(quad(w2), 2)
    np.testing.assert_array_equal(w, w2)  # restored to the last applied step


def test_run_stop_and_errors():
    w, opt = make()
    n = []

    def closure():
        n.append(1)
        if len(n) > 2:
            raise zoq.Stop
        return quad(w)()

    assert opt.run(closure, 5) == 1
    with pytest.raises(zoq.InvalidError):
        opt.run(quad(w), -1)
    with pytest.raises(zoq.NonFiniteError):
        opt.run(lambda: float("nan"), 3)
