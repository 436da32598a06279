"""gunicorn reads this file from the project folder: check the sources before serving.

The catalogue and the policy are checked whenever the app is built; here the
live databases are compared with the catalogue once, in the master process,
so a server whose sources do not match refuses to start and says why.
"""

import sys


def on_starting(server):
    from app import create_app
    from app.cli import check_sources
    from config import ConfigError

    try:
        app = create_app()
        check_sources(app)
    except ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    app.extensions["portal"]["routing"].warehouse.dispose()
