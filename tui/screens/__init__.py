"""One screen per wizard step (the simple steps share StepScreen, parametrised by core.questions)."""

from __future__ import annotations

from typing import Any


def screen_for(step_id: str) -> Any:
    if step_id == "objective":
        from ftwizard.tui.screens.objective import ObjectiveScreen

        return ObjectiveScreen()
    if step_id == "data":
        from ftwizard.tui.screens.data import DataScreen

        return DataScreen()
    if step_id == "train":
        from ftwizard.tui.screens.train import TrainScreen

        return TrainScreen()
    if step_id == "review":
        from ftwizard.tui.screens.review import ReviewScreen

        return ReviewScreen()
    from ftwizard.tui.screens.step import StepScreen

    return StepScreen(step_id)
