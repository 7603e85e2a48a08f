"""Routes of the /api/v1 API."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from messaging.views import MessageViewSet

router = SimpleRouter(trailing_slash=False)
router.register("messages", MessageViewSet, basename="message")

urlpatterns = router.urls
