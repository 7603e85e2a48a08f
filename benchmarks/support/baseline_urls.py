"""The API benchmark's baseline: a bare DRF endpoint doing one INSERT, never in the product's URLs.

Same settings as the product (middleware, DRF authentication and permission, JSON parser and
renderer); no serializer, no validation, no use case: read two fields, INSERT one row, answer 201.
"""

from __future__ import annotations

import uuid

from django.db import connection
from django.urls import path
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

INSERT = """
    INSERT INTO messages (id, phone_number, content, status, retry_count, attempt_count,
                          next_attempt_at, created_at, updated_at)
    VALUES (%s, %s, %s, 'PENDING', 0, 0, %s, %s, %s)
"""


class BareInsertView(APIView):
    """POST {"phoneNumber", "content"}: one INSERT into messages, 201 {"id"}."""

    def post(self, request: Request) -> Response:
        message_id, now = uuid.uuid4(), timezone.now()
        phone, content = request.data.get("phoneNumber"), request.data.get("content")
        with connection.cursor() as cursor:
            cursor.execute(INSERT, [message_id, phone, content, now, now, now])
        return Response({"id": str(message_id)}, status=201)


urlpatterns = [path("bench/insert", BareInsertView.as_view(), name="bench-insert")]
