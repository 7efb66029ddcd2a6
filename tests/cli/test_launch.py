"""Launching on a fresh machine: the missing Qt libraries named in one line; --scenario at top level."""

from __future__ import annotations

import pytest

from initviz import cli
from initviz.ui import platform_check as pc


def test_missing_xcb_libraries_are_named_with_their_packages() -> None:
    gone = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    line = pc.xcb_problem({"DISPLAY": ":0"}, loads=lambda name: name not in gone)
    assert line is not None and "\n" not in line
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in line
    assert "libxcb-icccm.so.4" in line
    assert pc.xcb_problem({"DISPLAY": ":0"}, loads=lambda name: True) is None


def test_no_check_when_qt_will_not_use_xcb() -> None:
    never = lambda name: False  # noqa: E731
    assert pc.xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, loads=never) is None
    assert pc.xcb_problem({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, loads=never) is None
    assert pc.xcb_problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"}, loads=never) is not None


def test_the_apt_line_covers_what_the_xcb_plugin_links() -> None:
    for needed in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0", "libegl1", "libgl1"):
        assert needed in pc.APT_LINE


def test_top_level_scenario_opens_the_window_on_its_lanes(monkeypatch) -> None:
    seen = {}

    def fake_run_app(config=None, argv=None, scenario=None):
        seen["config"], seen["scenario"] = config, scenario
        return 0

    import initviz.ui.app as app

    monkeypatch.setattr(app, "run_app", fake_run_app)
    assert cli.main(["--scenario", "four_classic_inits", "--depth", "6"]) == 0
    assert seen["scenario"].id == "four_classic_inits" and seen["config"].depth == 6


def test_unknown_scenario_is_named_with_the_valid_ids(capsys) -> None:
    assert cli.main(["--scenario", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "'bogus'" in err and "scenario" in err and "four_classic_inits" in err and "xavier_relu" in err
    assert "invalid choice" not in err


@pytest.mark.parametrize("argv", [["--version"], ["-h"]])
def test_top_level_flags_still_work(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 0
