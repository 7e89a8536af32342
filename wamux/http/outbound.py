"""The outbound-URL rule of §8 at input: a webhook target a user's instance may not reach is a 400."""

from __future__ import annotations

from typing import Any

from wamux.http.services import Services


async def check_webhook_url(services: Services, url: Any, *, owner_id: str) -> None:
    """400 (`validation_error` or `url_not_allowed`) for a webhook URL the instance's owner may not use."""
    await services.usecases.instances.check_webhook_url(url, owner_id=owner_id)
