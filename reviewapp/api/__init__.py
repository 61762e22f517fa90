"""HTTP API v1 (SPEC §7): OpenAPI at /api/v1/openapi.json, interactive docs at /api/v1/docs."""

from csp.decorators import csp_update
from ninja import NinjaAPI

from reviewapp.api import problems
from reviewapp.api.auth import StrictJSONParser, TokenAuth, TokenRateThrottle
from reviewapp.api.briefs import router as briefs_router
from reviewapp.api.drafts import router as drafts_router

DESCRIPTION = """
Submit marketing copy for review, follow its flags and decisions, and publish it once a named
reviewer has approved the exact text.

* **Auth**: `Authorization: Bearer <token>` (create one with `manage.py add_user NAME --role ROLE --token`).
* **Errors**: RFC 9457 `application/problem+json` with a stable `code`.
* **Retries**: creating POSTs accept `Idempotency-Key`.
* **Pagination**: lists return `{results, next, previous}`; follow `next` (a cursor URL).
"""


class ReviewAPI(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        return problems.rewrite_openapi(super().get_openapi_schema(*args, **kwargs))


api = ReviewAPI(
    title="Copy review API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=TokenAuth(),
    throttle=TokenRateThrottle(),
    parser=StrictJSONParser(),
    # Swagger UI sets inline styles; its scripts are static files, so script-src stays 'self'.
    docs_decorator=csp_update({"style-src": ["'unsafe-inline'"]}),
)
problems.install(api)
api.add_router("/", drafts_router)
api.add_router("/", briefs_router)
