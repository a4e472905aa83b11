"""Bad input in every Tuner field and every quick control: refused inline with the reason,
never saved, never sent to the engine (issue "Faults": non-numbers, negatives, absurd values)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tests.ui.scenarios_shell import TERMINAL_SIZE, build_app, settle
from workbench.chat.session import MAX_N, MAX_TEMPERATURE
from workbench.engine.fake import FakeEngine
from workbench.ui.screens.dialogs import ConfirmScreen
from workbench.ui.tuner_fields import FIELDS
from workbench.ui.tuner_view import TunerView

TYPED = [field for field in FIELDS if field.kind != "choice"]
BAD: dict[str, list[str]] = {
    # value → it must be refused by the field itself
    "int": ["abc", "-5", "0", "1.5", "1e9", "12k5", "∞"],
    "fraction": ["abc", "-0.1", "0", "1.5", "1e9", "nan", "90%"],
}
ABSURD_BUT_WELL_FORMED = {
    # accepted by the field, then judged by the estimate (shown in red, not saved as fitting)
    "max_model_len": ("1000000000", "exceeds the model's maximum"),
    "tensor_parallel_size": ("10000", "not divisible"),
}


@pytest.mark.parametrize("field", TYPED, ids=[f.name for f in TYPED])
async def test_every_field_refuses_bad_text_inline(tmp_path: Path, field: object) -> None:
    from workbench.ui.tuner_fields import TunerField

    assert isinstance(field, TunerField)
    engine = FakeEngine()
    app, dirs = build_app(tmp_path, engine=engine, initial_profile="qwen2.5-7b-chat")
    path = dirs.project / "qwen2.5-7b-chat.toml"
    original = path.read_text()
    values = [*BAD[field.kind], *(["10000"] if field.name == "n" else [])]
    if not field.optional:
        values.append("")
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        tuner = app.query_one(TunerView)
        for text in values:
            app.query_one(f"#field-{field.name}", Input).value = text
            await settle(pilot)
            reason = tuner.errors.get(field.name)
            assert reason, f"{field.name} = {text!r} was accepted"
            shown = str(app.query_one(f"#error-{field.name}", Static).render())
            assert reason in shown  # the reason is on screen, beside the field
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert not isinstance(app.screen, ConfirmScreen)  # nothing to confirm: refused
        assert engine.state.status == "unloaded"  # nothing reached the engine
    assert path.read_text() == original


@pytest.mark.parametrize("name", sorted(ABSURD_BUT_WELL_FORMED))
async def test_absurd_numbers_are_judged_by_the_estimate(tmp_path: Path, name: str) -> None:
    text, says = ABSURD_BUT_WELL_FORMED[name]
    app, _ = build_app(tmp_path, initial_profile="qwen2.5-7b-chat")
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        app.query_one(f"#field-{name}", Input).value = text
        await settle(pilot)
        tuner = app.query_one(TunerView)
        figures = str(app.query_one("#tuner-figures", Static).render())
        assert says in figures, figures
        assert tuner.estimate is None or tuner.estimate.verdict == "does_not_fit"


async def test_quick_controls_stay_in_range(tmp_path: Path) -> None:
    """Held down far past their ends, n stays in 1..MAX_N and temperature in 0..MAX."""
    engine = FakeEngine()
    app, _ = build_app(tmp_path, engine=engine, initial_profile="qwen-n4", autoload=True)
    async with app.run_test(size=TERMINAL_SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        chat = app.query_one("#chat")
        chat.log_view.focus()  # type: ignore[attr-defined]
        session = chat.session  # type: ignore[attr-defined]
        for key, low_high in (("minus", (1, 1)), ("plus", (MAX_N, MAX_N))):
            for _ in range(MAX_N + 10):
                await pilot.press(key)
            await settle(pilot)
            assert session.effective("n") == low_high[0]
        for key, expected in (
            ("left_square_bracket", 0.0),
            ("right_square_bracket", MAX_TEMPERATURE),
        ):
            for _ in range(40):
                await pilot.press(key)
            await settle(pilot)
            assert session.effective("temperature") == expected
        bar = str(app.query_one(".quick-bar", Static).render())
        assert f"n {MAX_N}" in bar and f"temperature {MAX_TEMPERATURE:.1f}" in bar
