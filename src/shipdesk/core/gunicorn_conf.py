"""Gunicorn settings of every Shipdesk web process: embedded mode (``shipdesk embedded``), the
scale-out web processes (``gunicorn shipdesk.wsgi:application -c python:shipdesk.core.gunicorn_conf``)
and the benchmarks. Command-line options given after ``-c`` override these.

A request's Python work holds the GIL, so the worker *processes* are what use the cores: one
per core (``WEB_CONCURRENCY`` or ``--workers`` to change it). The threads of each worker cover
requests that wait (the database, a carrier, an upload). Keep-alive lets a browser or a load
balancer reuse its connection instead of paying a TCP handshake per request.
"""

from __future__ import annotations

import os

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2)
threads = 4
# Behind a load balancer that pools connections, keep them longer than its idle timeout
# allows to be re-used, or it will meet connections gunicorn has just closed.
keepalive = 75
timeout = 120  # a large spreadsheet import or a batch's documents in the request
graceful_timeout = 10  # below the embedded supervisor's stop timeout
# Worker recycling: a worker is replaced after about this many requests (the jitter spreads
# the restarts so the workers of one machine do not all restart at once), returning to the
# system whatever memory its Python heap kept from its largest requests. ``WEB_MAX_REQUESTS=0``
# turns it off. Note: with threaded workers ``timeout`` above bounds a stuck worker process,
# not one slow request.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS") or 5000)
max_requests_jitter = max_requests // 10
# Several gunicorn instances on one machine (and the tests) would share the one default
# control socket in $HOME; Shipdesk does not use gunicornc.
control_socket_disable = True
