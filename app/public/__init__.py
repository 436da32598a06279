"""The public blueprint: what citizens see, no account needed."""

from app.public import (
    document_views,  # noqa: F401  (the identity document upload)
    download,  # noqa: F401  (registers the download views on bp)
    identity_views,  # noqa: F401  (the same, for proofs of identity)
    notices,  # noqa: F401  (the privacy notice and the legal notice)
    oidc_views,  # noqa: F401  (the same, for the sign-in with FranceConnect)
)
from app.public.routes import bp

__all__ = ["bp"]
