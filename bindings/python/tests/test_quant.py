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
