"""Routes of the /api/v1 API."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from messaging.dispatch_views import (
    CircuitCloseView,
    ProcessingStatusView,
    ProcessView,
    SchedulerStartView,
    SchedulerStatusView,
    SchedulerStopView,
)
from messaging.operator_views import CancelMessagesView, RequeueMessagesView
from messaging.views import MessageViewSet

router = SimpleRouter(trailing_slash=False)
router.register("messages", MessageViewSet, basename="message")

urlpatterns = [
    path("messages/requeue", RequeueMessagesView.as_view(), name="messages-requeue"),
    path("messages/cancel", CancelMessagesView.as_view(), name="messages-cancel"),
    *router.urls,
    path("messaging/process", ProcessView.as_view(), name="messaging-process"),
    path("messaging/status", ProcessingStatusView.as_view(), name="messaging-status"),
    path("scheduler/start", SchedulerStartView.as_view(), name="scheduler-start"),
    path("scheduler/stop", SchedulerStopView.as_view(), name="scheduler-stop"),
    path("scheduler/status", SchedulerStatusView.as_view(), name="scheduler-status"),
    path("scheduler/circuit/close", CircuitCloseView.as_view(), name="scheduler-circuit-close"),
]
