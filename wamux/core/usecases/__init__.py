"""The application layer: what the routes (and the CLI) ask of the core, one use case per action.

Routes parse the request, call a use case (a change) or a query (`wamux.core.queries`),
and shape the answer — nothing else. A use case authorizes (`access.owned`), prepares what the
actor needs (media, targets) and sends the actor one typed command (`wamux.core.commands`).
Idempotency and limits are decided once, in the actor's turn; the limit rule itself is the pure
`wamux.domain.limits`.
"""

from __future__ import annotations

from dataclasses import dataclass

from wamux.core.usecases.chat_actions import ChatActionUseCases
from wamux.core.usecases.contacts import ContactUseCases
from wamux.core.usecases.groups import GroupUseCases
from wamux.core.usecases.instances import InstanceUseCases
from wamux.core.usecases.messaging import MessagingUseCases
from wamux.core.usecases.people import PeopleUseCases
from wamux.core.usecases.usage import UsageUseCases
from wamux.core.usecases.webhooks import WebhookUseCases

__all__ = [
    "ChatActionUseCases",
    "ContactUseCases",
    "GroupUseCases",
    "InstanceUseCases",
    "MessagingUseCases",
    "PeopleUseCases",
    "UsageUseCases",
    "UseCases",
    "WebhookUseCases",
]


@dataclass(frozen=True)
class UseCases:
    instances: InstanceUseCases
    messaging: MessagingUseCases
    chats: ChatActionUseCases
    contacts: ContactUseCases
    groups: GroupUseCases
    people: PeopleUseCases
    usage: UsageUseCases
    # Built by the composition root; None only in test rigs that run no webhook dispatcher.
    webhook_targets: WebhookUseCases | None = None

    @property
    def webhooks(self) -> WebhookUseCases:
        if self.webhook_targets is None:
            raise RuntimeError("this build has no webhook dispatcher")
        return self.webhook_targets
