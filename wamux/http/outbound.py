"""The outbound-URL rule of §8 at input: a webhook target a user's instance may not reach is a 400."""

from __future__ import annotations

from typing import Any

from wamux.core.user_directory import UserDirectory
from wamux.http.services import Services


def owner_trusted(users: UserDirectory, owner_id: str) -> bool:
    """Whether an instance owned by `owner_id` may send to private addresses (its owner is an admin)."""
    owner = users.get(owner_id)
    return owner is not None and owner.role == "admin"


async def check_webhook_url(services: Services, url: Any, *, owner_id: str) -> None:
    """400 (`validation_error` or `url_not_allowed`) for a webhook URL the instance's owner may not use.

    A name that does not resolve yet is accepted: the check at connect time still applies.
    """
    if services.outbound is None or url is None or url == "":
        return
    await services.outbound.check(
        url, trusted=owner_trusted(services.users, owner_id), field_name="webhookUrl", must_resolve=False
    )
