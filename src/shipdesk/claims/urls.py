from django.urls import path

from shipdesk.claims import views

app_name = "claims"
urlpatterns = [
    path("", views.index, name="index"),
    path("detect/", views.detect, name="detect"),
    path("candidates/claim/", views.candidates_claim, name="candidates_claim"),
    path("candidates/<int:candidate_id>/dismiss/", views.candidate_dismiss,
         name="candidate_dismiss"),
    path("list/", views.claim_list, name="list"),
    path("<int:claim_id>/", views.claim_detail, name="claim"),
    path("<int:claim_id>/claim.pdf", views.claim_pdf, name="claim_pdf"),
    path("<int:claim_id>/print/", views.claim_print, name="claim_print"),
    path("rules/", views.rules_page, name="rules"),
    path("audits/", views.audit_list, name="audits"),
    path("audits/<int:audit_id>/", views.audit_detail, name="audit"),
    path("audits/<int:audit_id>/audit.pdf", views.audit_pdf, name="audit_pdf"),
    path("control/", views.control, name="control"),
    path("control/claims.xlsx", views.control_xlsx, name="control_xlsx"),
]
