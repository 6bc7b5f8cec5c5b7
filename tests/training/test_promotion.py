"""The promotion rule."""

from __future__ import annotations

from repomind.training.promotion import decide


def _m(
    base: float, new: float, em: float = 0.0, base_em: float = 0.0, current: tuple[float, float] | None = None
):  # type: ignore[no-untyped-def]
    return {
        "base": {"loss": base, "exact_match": base_em},
        "adapter": {"loss": new, "exact_match": em},
        "current": None if current is None else {"loss": current[0], "exact_match": current[1]},
    }


def test_must_beat_its_base() -> None:
    assert decide(_m(2.0, 1.5), has_current=False).promote
    assert not decide(_m(2.0, 1.995), has_current=False).promote  # within the 1% margin
    assert not decide(_m(2.0, 2.5), has_current=False).promote
    refused = decide(_m(2.0, 1.5, em=0.25, base_em=0.5), has_current=False)
    assert not refused.promote and "below the base" in refused.reason
    assert not decide({"adapter": {"loss": None}}, has_current=False).promote


def test_must_beat_the_served_adapter() -> None:
    assert decide(_m(2.0, 1.5, em=0.5, current=(1.2, 0.25)), has_current=True).promote  # match first
    assert not decide(_m(2.0, 1.1, em=0.25, current=(1.2, 0.5)), has_current=True).promote
    assert decide(_m(2.0, 1.1, em=0.5, current=(1.2, 0.5)), has_current=True).promote  # tie: loss
    assert not decide(_m(2.0, 1.195, em=0.5, current=(1.2, 0.5)), has_current=True).promote
    kept = decide(_m(2.0, 1.0), has_current=True)
    assert not kept.promote and "could not be evaluated" in kept.reason
