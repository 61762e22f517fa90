from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from reviewapp import views, webhook_views
from reviewapp.api import api

urlpatterns = [
    path("", views.draft_list, name="draft-list"),
    path("drafts/new", views.draft_submit, name="draft-submit"),
    path("drafts/<int:draft_id>", views.draft_detail, name="draft-detail"),
    path("drafts/<int:draft_id>/decide", views.draft_decide, name="draft-decide"),
    path("drafts/<int:draft_id>/versions", views.draft_edit, name="draft-edit"),
    path("drafts/<int:draft_id>/publish", views.draft_publish, name="draft-publish"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("webhooks/", include(webhook_views.urlpatterns)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
