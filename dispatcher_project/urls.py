"""Root URLs: the landing page, the API, health, metrics, Swagger, the dashboard, the admin and
the browsable API's login; guessed spellings of them redirect."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

from messaging.dashboard_views import DashboardDataView, DashboardPanelsView, DashboardView
from messaging.health import HealthView, ReadinessView
from messaging.landing_views import landing, without_trailing_slash
from messaging.metrics_view import MetricsView

# 302: where these lead may change. Redirects change nothing, so an API client's POST (no
# CSRF token) is redirected rather than refused.
to_swagger = csrf_exempt(RedirectView.as_view(pattern_name="swagger"))

urlpatterns = [
    path("", landing, name="landing"),
    path("api/v1", to_swagger),
    path("api/v1/", to_swagger),
    path("api/v1/", include("messaging.urls")),
    path("health", HealthView.as_view(), name="health"),
    path("health/ready", ReadinessView.as_view(), name="health-ready"),
    path("metrics", MetricsView.as_view(), name="metrics"),
    path("swagger", to_swagger),
    path("swagger/", to_swagger),
    path("swagger/doc.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("swagger/index.html", SpectacularSwaggerView.as_view(url_name="openapi"), name="swagger"),
    path("dashboard", RedirectView.as_view(pattern_name="dashboard", permanent=True)),
    path("dashboard/", DashboardView.as_view(), name="dashboard"),
    path("dashboard/panels", DashboardPanelsView.as_view(), name="dashboard-panels"),
    path("dashboard/data.json", DashboardDataView.as_view(), name="dashboard-data"),
    path("admin", RedirectView.as_view(pattern_name="admin:index", permanent=True)),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    # Last: only a path that matched nothing above, and whose slashless form is a route.
    re_path(r"^(?P<path>.*[^/])/$", without_trailing_slash),
]
