"""The waiting room's public pages and their polls count against QUEUE_RATE_LIMIT per client
address (GETs included: they are polled): beyond it, 429 with Retry-After (JSON for the polls)."""
from __future__ import annotations

import pytest

from tests.test_rate_limits import build


@pytest.fixture(scope="module")
def limited(app, db_url):
    return build(db_url, QUEUE_RATE_LIMIT="3 per minute")


def test_polls_beyond_the_limit_are_refused_per_address(limited):
    limited.appbuilder.sm.limiter.reset()
    tv = limited.test_client()
    here = {"REMOTE_ADDR": "198.51.100.7"}
    assert [tv.get("/queue/display/state", environ_base=here).status_code for _ in range(3)] == [200, 200, 200]
    refused = tv.get("/queue/display/state", environ_base=here)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "Too many requests" in refused.get_json()["message"]
    page = tv.get("/queue/display", environ_base=here)
    assert page.status_code == 429 and "Too many" in page.get_data(as_text=True)
    # Another address is counted apart.
    assert tv.get("/queue/display/state", environ_base={"REMOTE_ADDR": "198.51.100.8"}).status_code == 200
