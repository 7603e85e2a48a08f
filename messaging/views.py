"""HTTP API for messages: parse input, call one use case, render the result."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from core_domain.errors import DomainValidationError
from core_domain.use_cases.create_messages import DEFAULT_MAX_BATCH, NewMessage
from core_domain.values import CONTENT_AS_SENT_MAX_LENGTH, PHONE_AS_SENT_MAX_LENGTH
from messaging import metrics, openapi
from messaging.bootstrap import use_cases
from messaging.openapi import (
    BULK_REQUEST,
    COMMON_ERRORS,
    ERROR_HEADERS,
    IDEMPOTENCY_KEY,
    LOCATION,
    MESSAGE_ID,
    NEXT_PAGE,
    TOTAL_COUNT,
    errors,
)
from messaging.serializers import (
    AttemptSerializer,
    MessageCreateSerializer,
    MessageListQuerySerializer,
    MessageSerializer,
)


def _message_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise DomainValidationError(
            f"{raw!r} is not a valid message id (UUID)", field="id"
        ) from None


SIMPLE_ITEM = frozenset({"phoneNumber", "content"})


def _well_formed_items(data: list[Any]) -> list[NewMessage] | None:
    """The bulk items when every one is an object with two strings of a sane size; else None.

    A fast path for the common case: the same shape check as MessageCreateSerializer without
    building a serializer per item.
    """
    items = []
    for raw in data:
        if type(raw) is not dict or raw.keys() - SIMPLE_ITEM:
            return None  # a schedule or a stray key: the serializer reads (and names) it
        phone, content = raw.get("phoneNumber"), raw.get("content")
        if not (isinstance(phone, str) and isinstance(content, str)):
            return None
        if len(phone) > PHONE_AS_SENT_MAX_LENGTH or len(content) > CONTENT_AS_SENT_MAX_LENGTH:
            return None
        items.append(NewMessage(phone_number=phone, content=content))
    return items


def _items_checked_one_by_one(data: list[Any]) -> list[NewMessage]:
    """Every item through the serializer, so each problem is named by its index."""
    shape_errors: dict[str, Any] = {}
    items: list[NewMessage] = []
    for index, raw in enumerate(data):
        body = MessageCreateSerializer(data=raw)
        if body.is_valid():
            items.append(NewMessage(**body.validated_data))
        else:
            shape_errors[str(index)] = body.errors
    if shape_errors:
        raise exceptions.ValidationError(shape_errors)
    return items


@extend_schema(tags=["messages"])
class MessageViewSet(viewsets.ViewSet):
    """Create, list and inspect messages; requeue failed ones."""

    lookup_value_regex = "[^/]+"

    @extend_schema(
        summary="Create a message",
        description=openapi.DESCRIPTIONS["create"],
        request=MessageCreateSerializer,
        parameters=[IDEMPOTENCY_KEY, LOCATION, *ERROR_HEADERS],
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(MessageSerializer, description="Repeat of an idempotent create"),
            **errors(400, 409, 413, 415, *COMMON_ERRORS),
        },
        examples=[
            openapi.CREATE_EXAMPLE,
            openapi.MESSAGE,
        ],
    )
    def create(self, request: Request) -> Response:
        body = MessageCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        created = use_cases().create_message.execute(
            **body.validated_data, idempotency_key=request.headers.get("Idempotency-Key")
        )
        if created.is_new:
            metrics.record_created(1)
        response = Response(
            MessageSerializer(created.message).data,
            status=status.HTTP_201_CREATED if created.is_new else status.HTTP_200_OK,
        )
        response["Location"] = f"/api/v1/messages/{created.message.id}"
        return response

    @extend_schema(
        summary="List messages, newest first",
        description=openapi.DESCRIPTIONS["list"],
        examples=[openapi.MESSAGES],
        parameters=[MessageListQuerySerializer, TOTAL_COUNT, NEXT_PAGE, *ERROR_HEADERS],
        responses={
            200: OpenApiResponse(
                MessageSerializer(many=True), description="Total matches in X-Total-Count"
            ),
            **errors(400, *COMMON_ERRORS),
        },
    )
    def list(self, request: Request) -> Response:
        query = MessageListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params: dict[str, Any] = dict(query.validated_data)
        page = use_cases().list_messages.execute(
            limit=params["limit"],
            offset=params["offset"],
            status=params.get("status"),
            phone_number=params.get("phoneNumber"),
            before=params.get("before"),
        )
        response = Response(MessageSerializer(page.items, many=True).data)
        response["X-Total-Count"] = str(page.total)
        if page.next_cursor is not None:
            following = request.query_params.copy()
            following.pop("offset", None)
            following["before"] = str(page.next_cursor)
            url = request.build_absolute_uri(f"{request.path}?{following.urlencode()}")
            response["Link"] = f'<{url}>; rel="next"'
        return response

    @extend_schema(
        summary="Get one message",
        description=openapi.DESCRIPTIONS["retrieve"],
        examples=[openapi.SENT_MESSAGE],
        parameters=[MESSAGE_ID, *ERROR_HEADERS],
        responses={200: MessageSerializer, **errors(400, 404, *COMMON_ERRORS)},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        message = use_cases().get_message.execute(message_id=_message_id(pk))
        return Response(MessageSerializer(message).data)

    @extend_schema(
        summary=f"Create up to {DEFAULT_MAX_BATCH:,} messages at once (all or nothing)",
        description=openapi.DESCRIPTIONS["bulk"],
        examples=[openapi.BULK_EXAMPLE],
        request={"application/json": BULK_REQUEST},
        parameters=ERROR_HEADERS,
        responses={201: MessageSerializer(many=True), **errors(400, 413, 415, *COMMON_ERRORS)},
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        if not isinstance(request.data, list):
            raise exceptions.ValidationError({"body": ["Expected a JSON array of messages"]})
        items = _well_formed_items(request.data) or _items_checked_one_by_one(request.data)
        messages = use_cases().create_messages.execute(items=items)
        metrics.record_created(len(messages))
        return Response(MessageSerializer(messages, many=True).data, status=201)

    @extend_schema(
        summary="Delivery attempts of a message, oldest first",
        description=openapi.DESCRIPTIONS["attempts"],
        examples=[openapi.ATTEMPTS],
        parameters=[MESSAGE_ID, *ERROR_HEADERS],
        responses={200: AttemptSerializer(many=True), **errors(400, 404, *COMMON_ERRORS)},
    )
    @action(detail=True, methods=["get"])
    def attempts(self, request: Request, pk: str) -> Response:
        attempts = use_cases().get_attempts.execute(message_id=_message_id(pk))
        return Response(AttemptSerializer(attempts, many=True).data)

    @extend_schema(
        summary="Requeue a FAILED message (PENDING, due now, retryCount 0)",
        description=openapi.DESCRIPTIONS["retry"],
        examples=[openapi.REQUEUED],
        parameters=[MESSAGE_ID, *ERROR_HEADERS],
        request=None,
        responses={200: MessageSerializer, **errors(400, 404, 409, *COMMON_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str) -> Response:
        message = use_cases().requeue_message.execute(message_id=_message_id(pk))
        return Response(MessageSerializer(message).data)

    @extend_schema(
        summary='Cancel a PENDING message (FAILED, "Cancelled by an operator")',
        operation_id="api_v1_messages_cancel_one",
        description=openapi.DESCRIPTIONS["cancel"],
        examples=[openapi.CANCELLED],
        parameters=[MESSAGE_ID, *ERROR_HEADERS],
        request=None,
        responses={200: MessageSerializer, **errors(400, 404, 409, *COMMON_ERRORS)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        message = use_cases().cancel_message.execute(message_id=_message_id(pk))
        return Response(MessageSerializer(message).data)
