"""The SQL of migration 0002: what the database does by itself, in the transaction that
changes a row, so that no path through the application can forget it.

- Wake-ups: a row that becomes PENDING (created, requeued, retried or released) notifies the
  dispatchers' LISTEN channel on commit, so an idle dispatcher wakes within milliseconds.
- Kept counts: statement-level triggers with transition tables add each statement's changes to
  message_status_counts (and, for messages that became SENT or FAILED, message_daily_counts),
  so a count is a sum over a few rows and always equals COUNT(*). Rows are locked in status
  order within a slot (pg_backend_pid() % 16), so writers of different slots never wait for
  one another and writers of one slot cannot deadlock.
- Delivery minutes: each statement that records attempts adds them to the current minute:
  counts by outcome, call durations, and for deliveries the time since the message was
  created. The dashboard reads an hour of minutes, never the attempts themselves.
"""

CLAIM_TOKENS = (
    "CREATE SEQUENCE messages_claim_token_seq;"
    " UPDATE messages SET claim_token = nextval('messages_claim_token_seq')"
    " WHERE status = 'SENDING';"
)
NO_CLAIM_TOKENS = "DROP SEQUENCE messages_claim_token_seq;"

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

COUNT_TRIGGERS = """
CREATE FUNCTION messages_add_count(status text, delta bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO message_status_counts (status, slot, count)
    VALUES (status, pg_backend_pid() % 16, delta)
    ON CONFLICT (status, slot) DO UPDATE SET count = message_status_counts.count + EXCLUDED.count
$$;
CREATE FUNCTION messages_add_finished(status text, delta bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO message_daily_counts (day, status, slot, count)
    VALUES ((now() AT TIME ZONE 'UTC')::date, status, pg_backend_pid() % 16, delta)
    ON CONFLICT (day, status, slot) DO UPDATE
        SET count = message_daily_counts.count + EXCLUDED.count
$$;
CREATE FUNCTION messages_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM messages_add_count(status, count(*)) FROM new_rows GROUP BY status ORDER BY status;
    PERFORM messages_add_finished(status, count(*)) FROM new_rows
        WHERE status IN ('SENT', 'FAILED') GROUP BY status ORDER BY status;
    RETURN NULL;
END $$;
CREATE FUNCTION messages_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM messages_add_count(status, -count(*)) FROM old_rows GROUP BY status ORDER BY status;
    RETURN NULL;
END $$;
CREATE FUNCTION messages_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM messages_add_count(status, sum(delta)) FROM (
        SELECT o.status, -1 AS delta FROM old_rows AS o JOIN new_rows AS w USING (id)
        WHERE o.status <> w.status
        UNION ALL
        SELECT w.status, 1 FROM old_rows AS o JOIN new_rows AS w USING (id)
        WHERE o.status <> w.status
    ) AS moves GROUP BY status HAVING sum(delta) <> 0 ORDER BY status;
    PERFORM messages_add_finished(w.status, count(*))
        FROM old_rows AS o JOIN new_rows AS w USING (id)
        WHERE o.status <> w.status AND w.status IN ('SENT', 'FAILED')
        GROUP BY w.status ORDER BY w.status;
    RETURN NULL;
END $$;
CREATE FUNCTION messages_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM message_status_counts;
    RETURN NULL;
END $$;
CREATE TRIGGER messages_count_inserted AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION messages_count_inserted();
CREATE TRIGGER messages_count_deleted AFTER DELETE ON messages
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION messages_count_deleted();
CREATE TRIGGER messages_count_updated AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION messages_count_updated();
CREATE TRIGGER messages_count_truncated AFTER TRUNCATE ON messages
    FOR EACH STATEMENT EXECUTE FUNCTION messages_count_truncated();
"""
NO_COUNT_TRIGGERS = """
DROP TRIGGER messages_count_inserted ON messages;
DROP TRIGGER messages_count_deleted ON messages;
DROP TRIGGER messages_count_updated ON messages;
DROP TRIGGER messages_count_truncated ON messages;
DROP FUNCTION messages_count_inserted(), messages_count_deleted(), messages_count_updated(),
    messages_count_truncated(), messages_add_count(text, bigint),
    messages_add_finished(text, bigint);
"""
# The counts start from COUNT(*) with writers held off, so they are exact from the first commit.
BACKFILL = """
LOCK TABLE messages IN SHARE ROW EXCLUSIVE MODE;
INSERT INTO message_status_counts (status, slot, count)
    SELECT status, 0, count(*) FROM messages GROUP BY status;
INSERT INTO message_daily_counts (day, status, slot, count)
    SELECT (updated_at AT TIME ZONE 'UTC')::date, status, 0, count(*) FROM messages
    WHERE status IN ('SENT', 'FAILED')
        AND updated_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    GROUP BY 1, 2;
"""

SEND_GATE_ROW = (
    "INSERT INTO send_gate (id, tokens, refilled_at, circuit_state, consecutive_failures)"
    " VALUES (1, 1, now(), 'closed', 0) ON CONFLICT DO NOTHING"
)

STATS_TRIGGER = """
CREATE FUNCTION latency_bucket(ms double precision) RETURNS smallint
    LANGUAGE sql IMMUTABLE AS $$
    SELECT least(60, floor(2 * ln(greatest(ms, 1)) / ln(2)))::smallint
$$;
CREATE FUNCTION attempts_record_minute() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    this_minute timestamptz := date_trunc('minute', now());
    my_slot smallint := pg_backend_pid() % 16;
BEGIN
    INSERT INTO delivery_minutes (minute, outcome, slot, count)
        SELECT this_minute, outcome, my_slot, count(*) FROM new_rows GROUP BY outcome
        ORDER BY outcome
    ON CONFLICT (minute, outcome, slot) DO UPDATE
        SET count = delivery_minutes.count + EXCLUDED.count;
    INSERT INTO latency_minutes (minute, kind, bucket, slot, count)
        SELECT this_minute, kind, bucket, my_slot, count(*) FROM (
            SELECT 'call' AS kind, latency_bucket(duration_ms) AS bucket FROM new_rows
            UNION ALL
            SELECT 'delivery', latency_bucket(
                extract(epoch FROM now() - m.created_at) * 1000)
            FROM new_rows AS a JOIN messages AS m ON m.id = a.message_id
            WHERE a.outcome = 'delivered'
        ) AS times GROUP BY kind, bucket ORDER BY kind, bucket
    ON CONFLICT (minute, kind, bucket, slot) DO UPDATE
        SET count = latency_minutes.count + EXCLUDED.count;
    RETURN NULL;
END $$;
CREATE TRIGGER attempts_record_minute AFTER INSERT ON delivery_attempts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION attempts_record_minute();
"""
NO_STATS_TRIGGER = """
DROP TRIGGER attempts_record_minute ON delivery_attempts;
DROP FUNCTION attempts_record_minute(), latency_bucket(double precision);
"""
