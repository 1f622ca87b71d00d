"""Run the app on a desktop: ``python -m clients.kivy_app --server http://127.0.0.1:5000``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m clients.kivy_app",
        description="a0sync — ứng dụng cộng tác viên / collaborator app")
    parser.add_argument("--server", default=os.environ.get("A0SYNC_SERVER", ""),
                        help="server address shown on the enrolment screen")
    parser.add_argument("--data", type=Path, default=os.environ.get("A0SYNC_APP_DATA"),
                        help="folder of the encrypted local store (default: instance/app "
                             "on a desktop, the app's private folder on Android)")
    parser.add_argument("--lang", choices=("vi", "en"), default=None,
                        help="language (default: as last chosen on this phone, else vi)")
    parser.add_argument("--size", default="400x760", help="window size on a desktop")
    parser.add_argument("--pin-stdin", action="store_true",
                        help="read the PIN from the first line of stdin (benchmarks)")
    parser.add_argument("--report-ready", action="store_true",
                        help="print A0APP-READY when the household list is first shown")
    args = parser.parse_args(argv)
    pin = sys.stdin.readline().strip() if args.pin_stdin else None
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    from kivy.config import Config

    width, height = args.size.split("x")
    Config.set("graphics", "width", width)
    Config.set("graphics", "height", height)
    Config.set("input", "mouse", "mouse,disable_multitouch")
    from clients.kivy_app.ui.app import A0App

    data = args.data
    if data is None and "ANDROID_ARGUMENT" not in os.environ:
        data = Path("instance/app")
    A0App(Path(data) if data else None, server=args.server, lang=args.lang, pin_from_stdin=pin,
          report_ready=args.report_ready).run()


if __name__ == "__main__":
    main()
