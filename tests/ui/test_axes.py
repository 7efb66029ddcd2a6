"""Log axes (ui/panels/axes.py): minor ticks only where they can be told apart."""

from __future__ import annotations

from initviz.ui.panels.axes import MIN_DECADE_PX, ReadableAxis


def _ticks(size: float, lo: float, hi: float) -> tuple[list, list]:
    axis = ReadableAxis("left")
    axis.setLogMode(True)
    (_, major), (_, minor) = axis.logTickValues(lo, hi, size, None)
    return list(major), list(minor)


def test_many_decades_in_few_pixels_draw_no_minor_ladder(qapp) -> None:
    # 24 decades in 200 px (a gradient-norm plot from 1e-17 to 1e7 on a slide): 8 minor ticks a
    # decade would be ~1 px apart, a solid black ladder; only unlabelled decades remain
    major, minor = _ticks(200.0, -17.0, 7.0)
    assert 200.0 / 24 < MIN_DECADE_PX
    assert major and all(float(m).is_integer() for m in minor)
    assert not set(major) & set(minor)
    assert len(major) + len(minor) == 25


def test_roomy_decades_keep_their_minor_ticks(qapp) -> None:
    major, minor = _ticks(400.0, -2.0, 1.0)  # 3 decades in 400 px
    assert major == [-2.0, -1.0, 0.0, 1.0]
    assert len(minor) == 3 * 8  # 2..9 in each decade
