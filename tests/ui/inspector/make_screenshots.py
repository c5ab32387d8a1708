"""Saves the inspector's screenshots: `python -m tests.ui.inspector.make_screenshots [DIR]`.

1280×500 is the inspector's share of a 1280×800 main window. Open the PNGs and look at them.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from relayscope.ui.inspector import CallInspector
from relayscope.ui.theme import apply_theme, build_palette
from tests.ui.inspector import samples

SIZE = (1280, 500)


def main(out_dir: Path) -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    apply_theme(app)  # the look the window gives it
    if os.environ.get("INSPECTOR_DARK"):
        app.setPalette(build_palette(True))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = samples.build(Path(tmp) / "shots.db")
        inspector = CallInspector(store)
        inspector.resize(*SIZE)
        inspector.show()
        shots = [
            ("inspector-overview.png", samples.CHAT_ID, 0, None),
            ("inspector-stream.png", samples.STREAM_ID, 3, samples.STALL_AT),
            ("inspector-error.png", samples.ERROR_ID, 0, None),
        ]
        extra = os.environ.get("INSPECTOR_EXTRA_SHOTS")
        if extra:
            shots += [
                ("extra-codex.png", samples.CODEX_ID, 0, None),
                ("extra-request.png", samples.UPSTREAM_ID, 1, None),
                ("extra-response.png", samples.CODEX_ID, 2, None),
                ("extra-error-response.png", samples.ERROR_ID, 2, None),
                ("extra-upstream-overview.png", samples.UPSTREAM_ID, 0, None),
            ]
        for name, call_id, tab, row in shots:
            inspector.show_call(call_id)
            inspector.tabs.setCurrentIndex(tab)
            if row is not None:
                inspector.stream_tab.select_row(row)
            for _ in range(3):
                app.processEvents()
            inspector.grab().save(str(out_dir / name))
            print(out_dir / name)
        store.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
