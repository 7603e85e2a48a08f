"""HTTP API for processing and the scheduler: run a batch now, status, start/stop for all."""

from __future__ import annotations

import os
import secrets
import socket

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from messaging import openapi
from messaging.bootstrap import api_dispatcher, use_cases
from messaging.dispatch_serializers import (
    CircuitActionSerializer,
    ProcessingResultSerializer,
    ProcessingStatusSerializer,
    ProcessQuerySerializer,
    SchedulerActionSerializer,
    SchedulerStatusSerializer,
)
from messaging.openapi import COMMON_ERRORS, ERROR_HEADERS, errors


class ProcessView(APIView):
    @extend_schema(
        summary="Deliver one batch now (regardless of the scheduler switch)",
        description=openapi.DESCRIPTIONS["process"],
        examples=[openapi.PROCESS_RESULT],
        parameters=[ProcessQuerySerializer, *ERROR_HEADERS],
        request=None,
        responses={200: ProcessingResultSerializer, **errors(400, *COMMON_ERRORS)},
        tags=["dispatching"],
    )
    def post(self, request: Request) -> Response:
        query = ProcessQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        default = settings.DISPATCHER["scheduler_batch_size"]
        batch_size = query.validated_data.get("batch_size", default)
        report = api_dispatcher().process(
            worker_id=f"api-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}",
            limit=batch_size,
        )
        return Response(ProcessingResultSerializer(report).data)


class ProcessingStatusView(APIView):
    @extend_schema(
        summary="Queue counts, today's results and dispatcher activity",
        description=openapi.DESCRIPTIONS["processing_status"],
        examples=[openapi.PROCESSING_STATUS],
        parameters=ERROR_HEADERS,
        responses={200: ProcessingStatusSerializer, **errors(*COMMON_ERRORS)},
        tags=["dispatching"],
    )
    def get(self, request: Request) -> Response:
        status = use_cases().dispatcher_status.execute()
        return Response(ProcessingStatusSerializer(status).data)


_SWITCH = {
    "description": openapi.DESCRIPTIONS["switch"],
    "request": None,
    "parameters": ERROR_HEADERS,
    "responses": {200: SchedulerActionSerializer, **errors(409, *COMMON_ERRORS)},
    "tags": ["scheduler"],
}


class SchedulerSwitchView(APIView):
    """Flips the shared switch to `is_running`; each subclass says which and documents it."""

    is_running: bool

    def post(self, request: Request) -> Response:
        use_cases().set_scheduler_state.execute(is_running=self.is_running)
        verb = "started" if self.is_running else "stopped"
        answer = {"message": f"Scheduler {verb} for every dispatcher", "status": verb}
        return Response(SchedulerActionSerializer(answer).data)


@extend_schema(
    summary="Switch dispatching on for every dispatcher process",
    examples=[openapi.SCHEDULER_STARTED],
    **_SWITCH,
)
class SchedulerStartView(SchedulerSwitchView):
    is_running = True


@extend_schema(
    summary="Switch dispatching off for every dispatcher process",
    examples=[openapi.SCHEDULER_STOPPED],
    **_SWITCH,
)
class SchedulerStopView(SchedulerSwitchView):
    is_running = False


class SchedulerStatusView(APIView):
    @extend_schema(
        summary="The shared switch, totals and every dispatcher's heartbeat",
        description=openapi.DESCRIPTIONS["scheduler_status"],
        examples=[openapi.SCHEDULER_STATUS],
        parameters=ERROR_HEADERS,
        responses={200: SchedulerStatusSerializer, **errors(*COMMON_ERRORS)},
        tags=["scheduler"],
    )
    def get(self, request: Request) -> Response:
        report = use_cases().scheduler_status.execute()
        return Response(SchedulerStatusSerializer(report).data)


class CircuitCloseView(APIView):
    @extend_schema(
        summary="Close the webhook's circuit by hand",
        description=openapi.DESCRIPTIONS["circuit_close"],
        examples=[openapi.CIRCUIT_CLOSED],
        request=None,
        parameters=ERROR_HEADERS,
        responses={200: CircuitActionSerializer, **errors(409, *COMMON_ERRORS)},
        tags=["scheduler"],
    )
    def post(self, request: Request) -> Response:
        use_cases().close_circuit.execute()
        answer = {"message": "Circuit closed: sending resumes", "status": "closed"}
        return Response(CircuitActionSerializer(answer).data)
