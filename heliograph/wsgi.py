"""The WSGI entry point: ``application``, the portal built from the configuration.

With gunicorn (or any WSGI server)::

    heliograph db upgrade --config /etc/heliograph/portal.ini   # once, before the workers
    HELIOGRAPH_CONFIG=/etc/heliograph/portal.ini \\
        gunicorn --workers 4 --bind 127.0.0.1:8000 'heliograph.wsgi:application'

The configuration is read from ``$HELIOGRAPH_CONFIG`` (INI or TOML) and the
``HELIOGRAPH_*`` environment variables (see :mod:`heliograph.config`). Each
worker builds its own app at import; run the migrations first, as above, so
that several workers starting together do not race to create the schema.
``heliograph serve`` is the single-process alternative (waitress).
"""

from __future__ import annotations

from heliograph.web import make_app

application = make_app()
