"""A pytest plugin that keeps each phase's report on its test item (`item.rep_setup`,
`item.rep_call`), so a fixture can tell in its teardown whether the test failed (the
recipe of pytest's docs, "Making test result information available in fixtures").

Test modules that need it say `pytest_plugins = ["phase_reports"]`; only pytest imports it.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
