"""The Flask extension objects, created unbound and attached by ``create_app``."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from app.models import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
# ProxyFix (set from PROXY_COUNT) makes remote_addr the client's real address;
# a raw X-Forwarded-For is never read.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
