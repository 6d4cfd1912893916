"""Run inside a real terminal by bench/tui_latency.py --terminal: the wizard with timestamps.

Key -> panel: t0 when the app starts handling a Key event; t1 when the first frame written to the
terminal (App._display, real driver) after the estimate panel re-rendered with the update that key
caused. First frame: t0 at the top of this script (before any ftwizard or textual import), t1 when
the first frame holding a rendered plan is written. Results go to the JSON file in argv[1].
"""

import time

T_START = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402

from textual import events  # noqa: E402

from ftwizard.tui.app import WizardApp  # noqa: E402


class Timed(WizardApp):
    def __init__(self, out: str, **kw) -> None:  # noqa: ANN003
        from ftwizard.core import questions as q

        super().__init__(q.default_config(None, target="RTX 4090"), detect=False, step="train", **kw)
        self.out = out
        self.first_frame: float | None = None
        self.t0: float | None = None
        self.before = 0
        self.rendered = False
        self.lat: list[float] = []

    def _panel(self):  # noqa: ANN202
        try:
            return self.screen.query_one("#estimate")
        except Exception:  # noqa: BLE001 - not mounted yet
            return None

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and event.key in ("left", "right") and self.t0 is None:
            panel = self._panel()
            self.t0, self.before, self.rendered = time.perf_counter(), panel.updates, False
            if not getattr(panel, "_timed", False):
                orig = panel.render

                def render():  # noqa: ANN202
                    if self.t0 is not None and panel.updates > self.before:
                        self.rendered = True
                    return orig()
                panel.render, panel._timed = render, True
        if isinstance(event, events.Key) and event.key == "x":
            json.dump({"first_frame_s": self.first_frame, "key_to_panel_s": self.lat},
                      open(self.out, "w"))
            self.exit(0)
            return
        await super().on_event(event)

    def _display(self, screen, renderable) -> None:  # noqa: ANN001
        super()._display(screen, renderable)
        if renderable is None:
            return
        now = time.perf_counter()
        panel = self._panel()
        if self.first_frame is None and panel is not None and panel.plan is not None and panel.updates:
            self.first_frame = now - T_START
        if self.t0 is not None and self.rendered:
            self.lat.append(now - self.t0)
            self.t0 = None


if __name__ == "__main__":
    Timed(sys.argv[1]).run()
