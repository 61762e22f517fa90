from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from reviewapp import account_views, views, webhook_views
from reviewapp.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("queue", views.queue, name="queue"),
    path("queue/next", views.queue_next, name="queue-next"),
    path("mine", views.mine, name="mine"),
    path("metrics", views.metrics_page, name="metrics"),
    path("drafts/new", views.draft_submit, name="draft-submit"),
    path("drafts/preview", views.draft_preview, name="draft-preview"),
    path("drafts/<int:draft_id>", views.draft_detail, name="draft-detail"),
    path("drafts/<int:draft_id>/claim", views.draft_claim, name="draft-claim"),
    path("drafts/<int:draft_id>/renew", views.draft_renew, name="draft-renew"),
    path("drafts/<int:draft_id>/release", views.draft_release, name="draft-release"),
    path("drafts/<int:draft_id>/flags/<int:flag_id>/override", views.flag_override, name="flag-override"),
    path("drafts/<int:draft_id>/decide", views.draft_decide, name="draft-decide"),
    path("drafts/<int:draft_id>/versions", views.draft_edit, name="draft-edit"),
    path("drafts/<int:draft_id>/publish", views.draft_publish, name="draft-publish"),
    path("briefs/new", views.brief_new, name="brief-new"),
    path("briefs/<int:brief_id>", views.brief_detail, name="brief-detail"),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("login/code", account_views.login_code, name="login-code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/two-factor", account_views.two_factor, name="two-factor"),
    path("account/two-factor/qr.svg", account_views.two_factor_qr, name="two-factor-qr"),
    path("webhooks/", include(webhook_views.urlpatterns)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
