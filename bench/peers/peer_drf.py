"""Peer 2: Django REST Framework + django-filter on the same tables.

Settings, an unmanaged model over ``sync_configs``, a FilterSet, a ModelSerializer,
LimitOffsetPagination (page + count), a view; gunicorn (gthread) + psycopg 3 over the
unix socket, connections kept (CONN_MAX_AGE). No auth (namespace = X-Namespace).

    BENCH_PG_HOST=/socket/dir BENCH_PG_DB=bench \
        gunicorn -k gthread --threads 8 -w 1 bench.peers.peer_drf:application
"""

from __future__ import annotations

import os

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    SECRET_KEY="bench-only-" + "x" * 40,
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["rest_framework", "django_filters", __name__],
    MIDDLEWARE=[],
    USE_TZ=True,
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("BENCH_PG_HOST", ""),
            "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
            "NAME": os.environ.get("BENCH_PG_DB", "bench"),
            "USER": "postgres",
            "CONN_MAX_AGE": None,
        }
    },
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [],
        "DEFAULT_PERMISSION_CLASSES": [],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "UNAUTHENTICATED_USER": None,
        "PAGE_SIZE": 10,
    },
)
django.setup()

# Imported after setup, as Django requires.
import django_filters  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import models  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import generics, serializers  # noqa: E402
from rest_framework.pagination import LimitOffsetPagination  # noqa: E402


class SyncConfig(models.Model):
    sync_config_id = models.CharField(primary_key=True, max_length=21)
    namespace_id = models.CharField(max_length=15)
    bucket_id = models.CharField(max_length=16)
    connection_id = models.CharField(max_length=20)
    internal_id = models.CharField(max_length=28)
    source_path = models.CharField(max_length=1024)
    created_by_user_id = models.CharField(max_length=19)
    file_filters = models.JSONField(null=True)
    sync_mode = models.CharField(max_length=16)
    polling_interval_seconds = models.IntegerField()
    batch_size = models.IntegerField()
    create_object_on_confirm = models.BooleanField()
    skip_duplicates = models.BooleanField()
    status = models.CharField(max_length=32)
    is_active = models.BooleanField()
    total_files_discovered = models.BigIntegerField()
    total_files_synced = models.BigIntegerField()
    total_files_failed = models.BigIntegerField()
    total_bytes_synced = models.BigIntegerField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_sync_at = models.DateTimeField(null=True)
    next_sync_at = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=1000, null=True)
    consecutive_failures = models.IntegerField()
    metadata = models.JSONField()
    description = models.CharField(max_length=500, null=True)
    paused = models.BooleanField()
    paused_at = models.DateTimeField(null=True)
    pause_reason = models.CharField(max_length=500, null=True)
    paused_by_user_id = models.CharField(max_length=19, null=True)
    locked = models.BooleanField()
    schema_mapping = models.JSONField(null=True)
    ingest_filter = models.JSONField(null=True)
    reconcile = models.JSONField(null=True)
    provider_filters = models.JSONField(null=True)
    batch_collection_ids = models.JSONField(null=True)
    skip_batch_submission = models.BooleanField()
    sync_from = models.DateTimeField(null=True)
    max_objects_per_run = models.IntegerField(null=True)
    sync_concurrency = models.IntegerField(null=True)

    class Meta:
        app_label = __name__.rpartition(".")[2]
        db_table = "sync_configs"
        managed = False


class SyncFilter(django_filters.FilterSet):
    class Meta:
        model = SyncConfig
        fields = ("connection_id", "status", "is_active")


class SyncSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncConfig
        fields = "__all__"


class SyncList(generics.GenericAPIView):
    serializer_class = SyncSerializer
    pagination_class = LimitOffsetPagination

    def post(self, request, bucket_id):
        queryset = SyncConfig.objects.filter(
            namespace_id=request.headers.get("X-Namespace"), bucket_id=bucket_id
        ).order_by("-created_at", "-sync_config_id")
        queryset = SyncFilter(request.data or {}, queryset=queryset).qs
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


urlpatterns = [path("v1/buckets/<str:bucket_id>/syncs/list", SyncList.as_view())]
application = get_wsgi_application()
