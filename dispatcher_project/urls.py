"""Root URLs: the API, health, metrics, Swagger, the admin and the browsable API's login."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from messaging.dashboard_views import DashboardDataView, DashboardPanelsView, DashboardView
from messaging.health import HealthView, ReadinessView
from messaging.metrics_view import MetricsView

urlpatterns = [
    path("api/v1/", include("messaging.urls")),
    path("health", HealthView.as_view(), name="health"),
    path("health/ready", ReadinessView.as_view(), name="health-ready"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("swagger/doc.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("swagger/index.html", SpectacularSwaggerView.as_view(url_name="openapi"), name="swagger"),
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path("dashboard/panels", DashboardPanelsView.as_view(), name="dashboard-panels"),
    path("dashboard/data.json", DashboardDataView.as_view(), name="dashboard-data"),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
]
