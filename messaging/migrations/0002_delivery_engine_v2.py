"""Delivery engine v2: claim tokens for fencing, the client's schedule, and wake-ups.

A row that becomes PENDING (created, requeued, retried or released) notifies the dispatchers'
LISTEN channel on commit, so an idle dispatcher wakes within milliseconds.
"""

from django.db import migrations, models

WAKE_UP = """
CREATE FUNCTION messages_notify_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('message_dispatcher_due', '');
    RETURN NULL;
END $$;
CREATE TRIGGER messages_notify_due AFTER INSERT OR UPDATE OF status ON messages
    FOR EACH ROW WHEN (NEW.status = 'PENDING') EXECUTE FUNCTION messages_notify_due();
"""
NO_WAKE_UP = """
DROP TRIGGER messages_notify_due ON messages;
DROP FUNCTION messages_notify_due();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="message",
            name="messages_sending_is_leased",
        ),
        migrations.AddField(
            model_name="message",
            name="claim_token",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="send_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunSQL(
            "CREATE SEQUENCE messages_claim_token_seq;"
            " UPDATE messages SET claim_token = nextval('messages_claim_token_seq')"
            " WHERE status = 'SENDING';",
            "DROP SEQUENCE messages_claim_token_seq;",
        ),
        migrations.RunSQL(WAKE_UP, NO_WAKE_UP),
        migrations.AddConstraint(
            model_name="message",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "SENDING"), _negated=True),
                    models.Q(
                        ("claim_token__isnull", False),
                        ("lease_expires_at__isnull", False),
                        ("locked_by__isnull", False),
                    ),
                    _connector="OR",
                ),
                name="messages_sending_is_leased",
            ),
        ),
    ]
