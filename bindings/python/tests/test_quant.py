"""zoq.QMatrix and the 4-bit packing helpers."""
import numpy as np
import pytest

import zoq

RNG = np.random.default_rng(0)
W = RNG.standard_normal((16, 64)).astype(np.float32)


@pytest.mark.parametrize("fmt,g", [("int4_group", 32), ("int4_group", 64), ("int8_row", 0)])
def test_quantize_dequantize_within_half_a_step(fmt, g):
    m = zoq.QMatrix.quantize(W, fmt, g)
    wq = m.dequantize()
    if fmt == "int8_row":
        assert m.codes.dtype == np.int8 and m.codes.size == W.size and m.zeros is None
        step = m.scales[:, :1]
    else:
        assert m.codes.size == W.size // 2 and m.zeros.shape == (16, 64 // g)
        step = np.repeat(m.scales, g, axis=1)
    assert m.scales.shape[0] == 16
    assert np.all(np.abs(wq - W) <= 0.5 * step * (1 + 1e-5))
    assert repr(m).startswith("QMatrix(16 x 64, " + fmt)


def test_forward_pass_matches_the_dequantized_matrix():
    m = zoq.QMatrix.quantize(W)
    x = RNG.standard_normal((5, 64)).astype(np.float32)
    wq = m.dequantize()
    np.testing.assert_allclose(m.matmul(x), x @ wq.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.matvec(x[0]), wq @ x[0], rtol=1e-4, atol=1e-4)
    out = np.empty((5, 16), np.float32)
    assert m.matmul(x, out=out) is out
    buf = np.empty((16, 64), np.float32)
    assert m.dequantize(out=buf) is buf


def test_editing_scales_rescales_the_matrix():
    m = zoq.QMatrix.quantize(W)
    before = m.dequantize()
    m.scales *= 2
    np.testing.assert_allclose(m.dequantize(), 2 * before, rtol=1e-6)


def test_sizes():
    assert zoq.qmatrix_sizes("int4_group", 16, 64, 32) == (512, 128, 32)
    assert zoq.qmatrix_sizes("int8_row", 16, 64) == (1024, 64, 0)
    assert zoq.FORMATS == ("int8_row", "int4_group")
    with pytest.raises(zoq.InvalidError):
        zoq.qmatrix_sizes("int4_group", 16, 60, 32)


def test_errors():
    with pytest.raises(ValueError, match="format"):
        zoq.QMatrix.quantize(W, "int3")
    with pytest.raises(ValueError, match="2-D"):
        zoq.QMatrix.quantize(W[0])
    bad = W.copy()
    bad[0, 0] = np.inf
    with pytest.raises(zoq.InvalidError):
        zoq.QMatrix.quantize(bad)
    m = zoq.QMatrix.quantize(W)
    with pytest.raises(ValueError, match="64"):
        m.matvec(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="batch"):
        m.matmul(np.zeros((2, 3), np.float32))
    m.scales[0, 0] = np.nan
    with pytest.raises(zoq.InvalidError):
        m.dequantize()
    m.scales = m.scales[:, ::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        m.dequantize()


def test_q4_pack_unpack():
    codes = np.array([1, 2, 15, 0, 7, 8], np.uint8)
    packed = zoq.q4_pack(codes)
    np.testing.assert_array_equal(packed, [0x21, 0x0F, 0x87])
    np.testing.assert_array_equal(zoq.q4_unpack(packed), codes)
    np.testing.assert_array_equal(zoq.q4_unpack(packed, 4), codes[:4])
    with pytest.raises(zoq.InvalidError):
        zoq.q4_pack([16, 0])
    with pytest.raises(zoq.InvalidError):
        zoq.q4_pack([1, 2, 3])
    with pytest.raises(ValueError):
        zoq.q4_unpack(packed, 8)


def test_qzo_scales_are_trainable_parameters():
    """QZO's shape: the scales of a quantized matrix trained by zoq, codes fixed."""
    m = zoq.QMatrix.quantize(W)
    target = zoq.QMatrix.quantize(W)
    target.scales *= 1.1
    codes = m.codes.copy()
    x = RNG.standard_normal((32, 64)).astype(np.float32)
    y = target.matmul(x)
    opt = zoq.Optimizer(lr=1e-3, eps=1e-3, queries=4, clip=100.0)
    opt.add_param("scales", m.scales, flags=zoq.PARAM_SCALE)
    loss = lambda: float(((m.matmul(x) - y) ** 2).mean())
    start = loss()
    for _ in range(200):
        opt.step(loss)
    assert loss() < 0.2 * start
    np.testing.assert_array_equal(m.codes, codes)


# ---- quantized training: int8 codes (QuZO/ZOQO) and scales (QZO) -----------

def code_loss(codes, target):
    return lambda: float(((codes.astype(np.float64) - target) ** 2).sum())


@pytest.mark.parametrize("method", ["quzo", "quzo_naive", "zoqo"])
def test_int8_codes_train_on_the_grid_within_their_range(method):
    codes = np.zeros(32, np.int8)
    target = np.arange(32) % 9 - 4.0
    opt = zoq.Optimizer({"q": codes}, qmethod=method, lr=0.05, eps=1.0, queries=4, seed=1)
    assert opt.get("qmethod") == method
    opt.set_codes("q", -4, 4)
    start = code_loss(codes, target)()
    for _ in range(300):
        opt.step(code_loss(codes, target))
    assert codes.min() >= -4 and codes.max() <= 4
    assert code_loss(codes, target)() < 0.5 * start


def test_set_codes_with_scales_and_its_errors():
    codes = np.zeros(8, np.int8)
    w = np.zeros(4, np.float32)
    opt = zoq.Optimizer({"q": codes, "w": w}, seed=0)
    opt.set_codes("q", 0, 15, scales=np.full(2, 0.5, np.float32), group=4)
    with pytest.raises(zoq.InvalidError):
        opt.set_codes("w", -1, 1)  # not an int8 parameter
    with pytest.raises(zoq.InvalidError):
        opt.set_codes("q", 5, 5)  # lo < hi
    with pytest.raises(zoq.InvalidError):
        opt.set_codes("q", 0, 15, scales=np.ones(3, np.float32), group=3)  # 3 does not divide 8
    with pytest.raises(TypeError):
        opt.set_codes("q", 0, 15, scales=np.ones(2), group=4)
    with pytest.raises(zoq.NotFoundError):
        opt.set_codes("nope")


def test_add_qscales_tunes_the_scales_of_a_fixed_code_matrix():
    m = zoq.QMatrix.quantize(W, "int4_group", 32)
    codes = m.codes.copy()
    target = W * 1.1
    x = RNG.standard_normal((8, 64)).astype(np.float32)

    def loss():
        return float(((m.matmul(x) - x @ target.T) ** 2).mean())

    opt = zoq.Optimizer(lr=1e-3, eps=1e-3, queries=4, seed=2)
    pid = opt.add_qscales("s", m)
    assert opt.params["s"] is m.scales and pid == 0
    start = loss()
    for _ in range(200):
        opt.step(loss)
    assert loss() < 0.5 * start
    np.testing.assert_array_equal(m.codes, codes)
    with pytest.raises(zoq.ExistsError):
        opt.add_qscales("s", m)


def test_add_qcodes_registers_int8_row_codes_and_refuses_int4():
    m = zoq.QMatrix.quantize(W, "int8_row")
    target = m.codes.astype(np.float64) + 3
    opt = zoq.Optimizer(lr=0.0, eps=1.0, queries=2, seed=0)
    assert opt.add_qcodes("c", m) == 0
    assert opt.params["c"] is m.codes and m.codes.dtype == np.int8
    before = m.codes.copy()
    rep = opt.step(code_loss(m.codes, target))
    assert rep.applied and np.isfinite(rep.loss)
    np.testing.assert_array_equal(m.codes, before)  # lr 0: the codes are restored, not moved
    with pytest.raises(zoq.UnsupportedError):
        opt.add_qcodes("g", zoq.QMatrix.quantize(W, "int4_group", 32))
