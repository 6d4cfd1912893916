"""A text input that takes a burst of keys in the order they were typed.

Textual's Input inserts a printable key as it takes it off its queue, but its editing keys
(Ctrl+U, Backspace, arrows, Enter) are bindings, and a binding runs only once the key has bubbled
up to the app. With one key at a time nobody sees it; with a burst (a fast typist, a paste split
by the terminal, `tmux send-keys C-u 32 Enter`) the text after Ctrl+U is typed first and then
cleared, and Enter submits before the last characters are in. This input runs its own bindings as
it takes each key, so the text is the keys in order.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class InOrderInput(Input):
    def accepts_keys(self) -> bool:
        """False once the input is done (closed, its dialog dismissed): keys typed after its
        Enter that were already queued for it then go back to the app, to whatever has focus."""
        return True

    async def _on_key(self, event: events.Key) -> None:
        """Run this input's binding for the key now (the base class inserts printable keys,
        after this handler); keys it does not bind bubble up as usual."""
        if not self.accepts_keys():
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        if event.is_printable:
            return
        for binding in self._bindings.key_to_bindings.get(event.key, ())[:1]:
            event.stop()
            event.prevent_default()   # neither Input's handler nor the app's binding pass
            await self.run_action(binding.action)
