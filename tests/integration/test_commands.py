"""The management commands: help that shows each default, options checked like settings, the
tick line's rate and the banner of `make run`."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core_domain.use_cases.dispatcher import TickReport
from dispatcher_project import config
from messaging.management.commands import demo_webhook, run_dispatcher, run_stack


def _help(command: type, name: str) -> dict[str, str]:
    """Each option's entry in the command's --help, its line breaks undone."""
    text = command.Command().create_parser("manage.py", name).format_help()
    entries = re.split(r"\n  (?=-)", text.split("\noptions:\n", 1)[1])
    return {
        entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries if entry.strip()
    }


def test_run_dispatcher_help_shows_the_configured_defaults(settings) -> None:
    settings.DISPATCHER = {
        **settings.DISPATCHER,
        "scheduler_batch_size": 17,
        "scheduler_concurrency": 5,
    }

    entries = _help(run_dispatcher, "run_dispatcher")

    for option, default in [
        ("--once", "False"),
        ("--drain", "False"),
        ("--interval", "2m"),
        ("--batch-size", "17"),
        ("--concurrency", "5"),
        ("--processes", "1"),
    ]:
        assert entries[option].endswith(f"(default: {default})"), entries[option]


def test_demo_webhook_help_shows_that_it_fails_nothing_by_default() -> None:
    entries = _help(demo_webhook, "demo_webhook")

    for option, default in [
        ("--host", "127.0.0.1"),
        ("--port", "9090"),
        ("--fail-rate", "0.0"),
        ("--latency", "0.0"),
    ]:
        assert entries[option].endswith(f"(default: {default})"), entries[option]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "--batch-size: expected a whole number 1-1000, got '0'"),
        (["--concurrency", "513"], "--concurrency: expected a whole number 1-512, got '513'"),
        (["--processes", "x"], "--processes: expected a whole number 1-64, got 'x'"),
        (["--interval", "0s"], "--interval: expected a duration like 500ms, 30s, 2m or 1h"),
    ],
)
def test_run_dispatcher_options_have_the_settings_limits(args, message) -> None:
    with pytest.raises(CommandError) as raised:
        call_command("run_dispatcher", "--once", *args)

    assert str(raised.value).startswith(message)


def test_an_option_and_its_setting_refuse_a_value_in_the_same_words() -> None:
    with pytest.raises(CommandError) as option:
        call_command("run_dispatcher", "--once", "--batch-size", "1001")
    with pytest.raises(config.ImproperlyConfigured) as setting:
        config.load(config.Path("."), {"SCHEDULER_BATCH_SIZE": "1001"})

    words = str(option.value).removeprefix("--batch-size: ")
    assert str(setting.value) == f"SCHEDULER_BATCH_SIZE: {words} (from SCHEDULER_BATCH_SIZE)"


def test_every_setting_is_published_under_its_lower_case_name(settings) -> None:
    names = {setting.env.lower() for setting in config.SETTINGS}
    derived = {"version", "webhook_proxies", "webhook_ca_bundle"}

    assert set(settings.DISPATCHER) <= names | derived
    assert settings.DISPATCHER["scheduler_batch_size"] == settings.CONF["SCHEDULER_BATCH_SIZE"]
    assert "django_secret_key" not in settings.DISPATCHER


def test_every_parser_says_what_it_expects() -> None:
    assert all(setting.parse.expected for setting in config.SETTINGS)


# -- the tick line -----------------------------------------------------------------------------


def _tick(processed: int, seconds: float) -> TickReport:
    return TickReport(claimed=processed, sent=processed, seconds=seconds)


@pytest.mark.parametrize(
    ("processed", "seconds"),
    [(2, 0.0095), (2, 5.0), (500, 0.5)],
    ids=["two-in-ms", "two-in-seconds", "many-in-half-a-second"],
)
def test_a_tick_too_small_or_too_short_prints_no_rate(processed, seconds) -> None:
    line = run_dispatcher.progress_line(_tick(processed, seconds))

    assert line.startswith(f"tick: claimed={processed} sent={processed} ")
    assert "msgs/s" not in line


def test_a_tick_of_enough_messages_over_a_second_prints_its_rate() -> None:
    line = run_dispatcher.progress_line(_tick(50, 2.0))

    assert line.endswith("in 2.00s, 25.0 msgs/s")


def test_a_paused_tick_says_so() -> None:
    assert run_dispatcher.progress_line(TickReport(is_paused=True)) == (
        "tick: paused (scheduler stopped)"
    )


# -- make run's banner -------------------------------------------------------------------------


def test_the_banner_says_the_demo_receiver_fails_nothing_and_how_to_change_that() -> None:
    assert run_stack.demo_receiver_line(0) == (
        "demo receiver fails 0% of calls (set DEMO_FAIL_RATE=0.2 to see retries)"
    )
    assert run_stack.demo_receiver_line(0.25).startswith("demo receiver fails 25% of calls")


def test_the_stack_binds_host_and_port_as_the_banner_prints_them() -> None:
    command = run_stack.Command()
    argv = command._gunicorn("127.0.0.1", 8123)

    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8123"
    assert command._gunicorn("::", 8080)[argv.index("--bind") + 1] == "[::]:8080"


def test_the_banner_prints_the_bound_address(capsys) -> None:
    command = run_stack.Command()
    line = run_stack.demo_receiver_line(0)
    command._announce("127.0.0.1", 8123, "pw", webhook="http://127.0.0.1:9/webhook", demo=line)
    command._announce("0.0.0.0", 8124, "pw", webhook="http://127.0.0.1:9/webhook", demo=None)
    loopback, wildcard = capsys.readouterr().out.split("Press Ctrl-C to stop.")[:2]

    assert "Listening    127.0.0.1:8123" in loopback
    assert "http://127.0.0.1:8123/api/v1/messages" in loopback
    assert line in loopback
    assert "Listening    0.0.0.0:8124" in wildcard
    assert "http://localhost:8124/api/v1/messages" in wildcard  # loopback is in ALLOWED_HOSTS
    assert "demo receiver" not in wildcard
