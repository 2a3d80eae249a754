"""Who a campaign's messages come from: shared by the campaign files that name a sender and the writer that signs."""

from __future__ import annotations

from pydantic import field_validator

from jengu_pipeline.domain.yaml_files import StrictModel, Text, email_address


class SendingIdentity(StrictModel):
    """Who the messages come from; the postal address and unsubscribe text are legally required in the footer."""

    sender_name: Text
    sender_email: str
    reply_to: str | None = None
    postal_address: Text
    unsubscribe_text: Text

    @field_validator("sender_email", "reply_to")
    @classmethod
    def _valid_address(cls, value: str | None) -> str | None:
        return None if value is None else email_address(value)
