"""Administration → Background jobs in a real browser (Debian's headless Chromium), on the real
Redis: a failed job is retried and a waiting one deleted from the page; on a desktop and a
phone's width, in English and in Vietnamese, nothing wider than the screen. Screenshots go to
``$SCREENSHOT_DIR`` when it is set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from rq.job import Job

from app.jobs.queue import enqueue
from tests.test_background_jobs import _failed_job, app_on_redis, rq_env  # noqa: F401 (fixtures)

TEXT = {
    "en": {"title": "Background jobs", "retried": "The job is back on its queue.", "deleted": "The job is deleted.",
           "every": "every minute"},
    "vi": {"title": "Tác vụ nền", "retried": "Tác vụ đã được đưa lại vào hàng đợi.", "deleted": "Đã xóa tác vụ.",
           "every": "mỗi phút"},
}


@pytest.mark.needs_redis
@pytest.mark.needs_chromium
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("lang", ["en", "vi"])
def test_admin_retries_and_deletes_jobs_in_the_browser(app_on_redis, rq_env, page_as, tmp_path, width, lang):  # noqa: F811
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    failed_id = _failed_job(rq_env, "SMTP 421: máy chủ bận")
    waiting = enqueue(rq_env.config, "tests.jobs_helpers.greet", "Nguyễn Thị Hương", greeting="Kính chào",
                      queue="low")
    page = page_as("admin", width=width)
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.goto(f"{page.base_url}/clinic/language/{lang}?next=/background-jobs/")
        page.wait_for_load_state()
        text = TEXT[lang]
        assert text["title"] in page.content() and text["every"] in page.content()

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"background-jobs-{lang}-{width}-{name}.png"), full_page=True)
            assert page.evaluate("document.body.scrollWidth - window.innerWidth") <= 1, name

        shot("1-open")
        row = page.locator(f'tr[data-job="{failed_id}"]')
        assert "SMTP 421: máy chủ bận" in row.inner_text()
        row.locator("form[action$='/retry'] button").click()
        page.wait_for_load_state()
        assert text["retried"] in page.content()
        assert Job.fetch(failed_id, connection=rq_env.connection).get_status() == "queued"
        shot("2-retried")
        page.locator(f'tr[data-job="{waiting.id}"] form[action$="/delete"] button').click()
        page.wait_for_load_state()
        assert text["deleted"] in page.content()
        assert not Job.exists(waiting.id, connection=rq_env.connection)
    finally:
        page.goto(f"{page.base_url}/clinic/language/en?next=/")
        page.context.close()
