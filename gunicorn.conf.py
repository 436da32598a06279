"""gunicorn reads this file from the project folder: check the sources before serving.

The catalogue and the policy are checked whenever the app is built; here the
live databases are compared with the catalogue once, in the master process,
so a server whose sources do not match refuses to start and says why.
"""

import sys


def on_starting(server):
    from app import create_app
    from app.services import check_sources, services_of
    from config import ConfigError

    try:
        app = create_app()
        check_sources(services_of(app))
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    services_of(app).warehouse.dispose()
