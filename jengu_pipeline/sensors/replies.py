"""Reply ingestion: a sensor that notices new mail in any reply mailbox and launches ``replies_job``.

The sensor only looks (IMAP STATUS, a Maildir listing) and never opens the store; the ``replies`` asset reads,
classifies and acts, with its retries, logs and metadata.
"""

import hashlib
import json

import dagster as dg

from jengu_pipeline.domain.inboxes import InboxFileError
from jengu_pipeline.resources.replies import ReplyMailboxResource, ReplySourceError

replies_job = dg.define_asset_job(
    name="replies_job",
    selection=dg.AssetSelection.assets("replies"),
    description="Read new replies, classify them, match them to their sends, suppress, stop and pause sequences.",
    tags={"jengu/lane": "replies"},
)


@dg.sensor(
    job=replies_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches replies_job when a reply mailbox changed (new UIDs, new Maildir files).",
)
def reply_ingestion_sensor(
    context: dg.SensorEvaluationContext, mailboxes: ReplyMailboxResource
) -> dg.RunRequest | dg.SkipReason:
    try:
        now = mailboxes.fingerprints()
    except (ReplySourceError, InboxFileError) as error:
        return dg.SkipReason(f"reply sources misconfigured: {error}")
    if not now:
        return dg.SkipReason("no reply mailbox configured (inboxes.yaml imap blocks, or a Maildir)")
    cursor = json.dumps(now, sort_keys=True)
    if cursor == context.cursor:
        return dg.SkipReason("no new mail")
    before = json.loads(context.cursor) if context.cursor else {}
    changed = sorted(name for name, value in now.items() if before.get(name) != value)
    context.update_cursor(cursor)
    context.log.info(f"new mail in {', '.join(changed)}")
    return dg.RunRequest(
        run_key=f"replies-{hashlib.sha256(cursor.encode()).hexdigest()[:16]}", tags={"jengu/lane": "replies"}
    )
