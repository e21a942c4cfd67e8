"""The service from the story: a Django app that logs one line per request.

LOG_MODE=stdout logs to stdout (run under `watchedfile -o FILE --`);
LOG_MODE=watched logs with logging.handlers.WatchedFileHandler to LOG_FILE,
opened in each gunicorn worker. Run: python3 -m gunicorn logapp:application
"""
import logging
import logging.handlers
import os
import sys

from django.conf import settings
from django.http import HttpResponse
from django.urls import path

if os.environ.get("LOG_MODE") == "watched":
    handler = {
        "class": "logging.handlers.WatchedFileHandler",
        "filename": os.environ["LOG_FILE"],
        "formatter": "line",
    }
else:
    handler = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stdout",
        "formatter": "line",
    }


def request(req):
    logging.getLogger("app").info("REQ %s %s END", req.GET["id"], "x" * 64)
    return HttpResponse("ok\n")


urlpatterns = [path("r", request)]

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": "%(message)s"}},
        "handlers": {"out": handler},
        "loggers": {"app": {"handlers": ["out"], "level": "INFO", "propagate": False}},
    },
)

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after settings)

application = get_wsgi_application()
