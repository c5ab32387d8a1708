"""How the app starts, and fails, as a desktop app: no display, a broken config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from relayscope.cli.desktop import display_problem
from relayscope.cli.main import main
from tests.support.worker import ROOT


@pytest.mark.skipif(sys.platform != "linux", reason="X11/Wayland rules")
def test_display_problem_names_the_headless_command() -> None:
    assert display_problem({}) == "no display: for headless use run `relayscope proxy`."
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert display_problem({"DISPLAY": ":0"}) is None  # dev/setup.sh installs libxcb-cursor0


@pytest.mark.skipif(sys.platform != "linux", reason="X11/Wayland rules")
def test_no_display_is_one_sentence_not_a_qt_abort(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "relayscope", "--db", str(tmp_path / "r.db")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "relayscope: no display: for headless use run `relayscope proxy`.\n"
    assert not (tmp_path / "r.db").exists()  # nothing was started


def test_a_config_mistake_opens_a_dialog_with_the_cli_sentence(
    qapp: QApplication, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[proxy]\nport = "eighty"\n')
    seen: list[str] = []

    def close_dialog() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.close()
        else:
            QTimer.singleShot(20, close_dialog)

    QTimer.singleShot(20, close_dialog)
    assert main(["--config", str(config), "--db", str(tmp_path / "r.db")]) == 2
    printed = capsys.readouterr().err.strip().removeprefix("relayscope: ")
    assert "port" in printed and str(config) in printed
    assert seen == [f"Relayscope could not start: {printed}"]
