"""The one parser of issue text (:mod:`repomind.pipeline.issue`), as the solver and the localiser read it."""

from __future__ import annotations

from repomind.pipeline import issue
from repomind.pipeline.localise import mentions

ISSUE = """Saving fails:

```
Traceback (most recent call last):
  File "C:\\app\\src\\shop\\cart.py", line 12, in save
  File "src/shop/db.py", line 40
```

`shop.cart.Cart.total` is wrong; see src/shop/pricing.py and setup.cfg; tests/test_cart.py::test_total fails.
"""


def test_frames_keep_their_function_and_order() -> None:
    assert issue.frames(ISSUE) == [issue.Frame("C:\\app\\src\\shop\\cart.py", 12, "save")]
    # the solver's traceback lines include frames without a function
    assert issue.mentions(ISSUE).trace_lines == [("C:\\app\\src\\shop\\cart.py", 12), ("src/shop/db.py", 40)]


def test_source_paths_outside_frames_for_the_localiser_and_all_paths_for_the_solver() -> None:
    # a frame that names its function is scored as a frame, not again as a path; one without is a path
    assert issue.source_paths(ISSUE) == ["src/shop/db.py", "src/shop/pricing.py", "tests/test_cart.py"]
    found = issue.mentions(ISSUE)
    assert "setup.cfg" in found.paths and "src/shop/pricing.py" in found.paths
    assert found.test_ids == ["tests/test_cart.py::test_total"]


def test_names_and_code_are_read_once_for_both() -> None:
    assert "shop.cart.Cart.total" in issue.dotted_names(ISSUE)
    assert issue.words(ISSUE).count("shop") == 4
    assert "shop.cart.Cart.total" in issue.code_text(ISSUE) and "Traceback" in issue.code_text(ISSUE)
    # the localiser has no regular expressions of its own left
    assert not [name for name in vars(mentions) if name.isupper() and name.startswith("_")]
