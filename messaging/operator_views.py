"""HTTP API for operators: requeue FAILED or cancel PENDING messages by a filter, in batches."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core_domain.operator_changes import OperatorAction
from messaging import openapi
from messaging.bootstrap import use_cases
from messaging.dispatch_serializers import (
    CancelFilterSerializer,
    ChangeFilterSerializer,
    ChangeReportSerializer,
    RequeueFilterSerializer,
)
from messaging.openapi import COMMON_ERRORS, ERROR_HEADERS, errors

_DOCUMENTED = {
    "description": openapi.DESCRIPTIONS["change"],
    "examples": [openapi.CHANGE_FILTER, openapi.CHANGE_REPORT],
    "parameters": ERROR_HEADERS,
    "responses": {200: ChangeReportSerializer, **errors(400, 413, 415, *COMMON_ERRORS)},
    "tags": ["operator"],
}


def _change(
    request: Request, action: OperatorAction, shape: type[ChangeFilterSerializer]
) -> Response:
    body = shape(data=request.data)
    body.is_valid(raise_exception=True)
    given = dict(body.validated_data)
    report = use_cases().change_messages.execute(
        action=action,
        status=given.get("status"),
        phone_number=given.get("phoneNumber"),
        created_after=given.get("createdAfter"),
        created_before=given.get("createdBefore"),
        last_error_contains=given.get("lastErrorContains"),
        ids=given.get("ids"),
        dry_run=given["dryRun"],
    )
    return Response(ChangeReportSerializer(report).data)


class RequeueMessagesView(APIView):
    @extend_schema(
        summary="Requeue every FAILED message a filter selects",
        operation_id="api_v1_messages_requeue_matching",
        request=RequeueFilterSerializer,
        **_DOCUMENTED,
    )
    def post(self, request: Request) -> Response:
        return _change(request, OperatorAction.REQUEUE, RequeueFilterSerializer)


class CancelMessagesView(APIView):
    @extend_schema(
        summary="Cancel every PENDING message a filter selects",
        operation_id="api_v1_messages_cancel_matching",
        request=CancelFilterSerializer,
        **_DOCUMENTED,
    )
    def post(self, request: Request) -> Response:
        return _change(request, OperatorAction.CANCEL, CancelFilterSerializer)
